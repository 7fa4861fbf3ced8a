/** A Server-Sent Events client over fetch, for tests of GET /api/v1/events. */
export interface SseEvent {
  readonly event: string;
  readonly data: string;
}

export interface SseStream {
  readonly status: number;
  readonly contentType: string | null;
  /** Named events received so far, in order. */
  readonly events: SseEvent[];
  /** Comment lines (`: heartbeat`) received so far. */
  readonly comments: string[];
  /** True once the server ended the stream (or the client closed it). */
  ended(): boolean;
  close(): void;
}

export async function openSse(url: string, key: string): Promise<SseStream> {
  const controller = new AbortController();
  const res = await fetch(url, {
    headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' },
    signal: controller.signal,
  });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  let ended = false;
  const body = res.body;
  if (res.ok && body) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    void (async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let at: number;
          while ((at = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, at);
            buffer = buffer.slice(at + 2);
            let event = 'message';
            const data: string[] = [];
            for (const line of block.split('\n')) {
              if (line.startsWith(':')) comments.push(line.slice(1).trim());
              else if (line.startsWith('event: ')) event = line.slice(7);
              else if (line.startsWith('data: ')) data.push(line.slice(6));
            }
            if (data.length > 0) events.push({ event, data: data.join('\n') });
          }
        }
      } catch {
        // aborted by close()
      }
      ended = true;
    })();
  } else ended = true;
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    events,
    comments,
    ended: () => ended,
    close: () => controller.abort(),
  };
}
