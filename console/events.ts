/**
 * Auto-refresh by Server-Sent Events (GET /api/v1/events): the server says when a practice's
 * links, queues, conflicts or messages changed, and the page reloads what it shows. No polling
 * loop; the browser's EventSource reconnects by itself after a cut.
 */
import { useEffect, useRef, useState } from 'preact/hooks';

import { query } from './api.js';

export interface ChangeEvent {
  readonly practiceId: string;
  readonly topics: readonly string[];
}

type Listener = (e: ChangeEvent) => void;

let source: EventSource | null = null;
let sourcePractice: string | null | undefined;
const listeners = new Set<Listener>();
const statusListeners = new Set<(online: boolean) => void>();

function open(practiceId: string | null): void {
  if (source && sourcePractice === practiceId) return;
  source?.close();
  sourcePractice = practiceId;
  source = new EventSource(`/api/v1/events${query({ practiceId })}`, { withCredentials: true });
  source.addEventListener('changed', (msg) => {
    let data: ChangeEvent;
    try {
      data = JSON.parse((msg as MessageEvent<string>).data) as ChangeEvent;
    } catch {
      return;
    }
    for (const l of listeners) l(data);
  });
  source.addEventListener('open', () => statusListeners.forEach((l) => l(true)));
  source.addEventListener('error', () => statusListeners.forEach((l) => l(false)));
}

export function closeEvents(): void {
  source?.close();
  source = null;
  sourcePractice = undefined;
}

/**
 * Calls `onChange` when one of `topics` (or any, when empty) changed for the practice shown
 * (null: every practice the session may see). Bursts are gathered for 300 ms.
 */
export function useChanges(practiceId: string | null, topics: readonly string[], onChange: () => void): void {
  const callback = useRef(onChange);
  callback.current = onChange;
  const wanted = topics.join(',');
  useEffect(() => {
    open(practiceId);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const listener: Listener = (e) => {
      if (practiceId !== null && e.practiceId !== practiceId) return;
      if (wanted && !e.topics.some((t) => wanted.split(',').includes(t))) return;
      clearTimeout(timer);
      timer = setTimeout(() => callback.current(), 300);
    };
    listeners.add(listener);
    return () => {
      clearTimeout(timer);
      listeners.delete(listener);
    };
  }, [practiceId, wanted]);
}

export function useOnline(): boolean {
  const [online, setOnline] = useState(true);
  useEffect(() => {
    statusListeners.add(setOnline);
    return () => {
      statusListeners.delete(setOnline);
    };
  }, []);
  return online;
}
