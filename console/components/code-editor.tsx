/**
 * A plain <textarea> with line numbers, for YAML profiles: lines do not wrap, so the gutter's
 * numbers stay beside their lines; lines with an issue are marked in the gutter (colour and a
 * sign, so not by colour alone). `goToLine` moves the caret to a line and scrolls it into view.
 */
import type { RefObject } from 'preact';
import { useLayoutEffect, useRef, useState } from 'preact/hooks';

/** Offset in `text` of `line` (1-based), at `column` (1-based) clamped to the line's end. */
export function offsetOf(text: string, line: number, column = 1): number {
  let offset = 0;
  for (let l = 1; l < line; l++) {
    const next = text.indexOf('\n', offset);
    if (next === -1) return text.length;
    offset = next + 1;
  }
  const end = text.indexOf('\n', offset);
  const lineEnd = end === -1 ? text.length : end;
  return Math.min(offset + Math.max(0, column - 1), lineEnd);
}

/** Puts the caret at line:column of the textarea, focuses it and scrolls the line into view. */
export function goToLine(area: HTMLTextAreaElement, line: number, column = 1): void {
  const offset = offsetOf(area.value, line, column);
  area.focus();
  area.setSelectionRange(offset, offset);
  const lineHeight = parseFloat(getComputedStyle(area).lineHeight) || 20;
  const top = (line - 1) * lineHeight;
  if (top < area.scrollTop || top > area.scrollTop + area.clientHeight - lineHeight * 2)
    area.scrollTop = Math.max(0, top - area.clientHeight / 3);
}

export type LineMark = 'error' | 'warning';

export function CodeEditor(props: {
  id: string;
  value: string;
  onInput: (value: string) => void;
  /** Line (1-based) → the worst issue on it. */
  marks: ReadonlyMap<number, LineMark>;
  areaRef: RefObject<HTMLTextAreaElement>;
  describedBy?: string;
  invalid?: boolean;
  rows?: number;
  readOnly?: boolean;
}) {
  const numbers = useRef<HTMLDivElement>(null);
  const [caretLine, setCaretLine] = useState(1);
  const lines = props.value.split('\n').length;
  // One block per run of plain line numbers, one per marked (or caret) line: a profile of
  // hundreds of lines stays a handful of nodes, cheap to re-render on every keystroke.
  const blocks = [];
  let run: string[] = [];
  const flush = (at: number) => {
    if (run.length) blocks.push(<div key={`r${at}`}>{run.join('\n')}</div>);
    run = [];
  };
  for (let i = 1; i <= lines; i++) {
    const mark = props.marks.get(i);
    if (!mark && i !== caretLine) {
      run.push(String(i));
      continue;
    }
    flush(i);
    blocks.push(
      <div
        key={i}
        class={`gutter-line${mark ? ` mark-${mark}` : ''}${i === caretLine ? ' caret-line' : ''}`}
        data-line={i}
      >
        {mark === 'error' ? '✖ ' : mark === 'warning' ? '⚠ ' : ''}
        {i}
      </div>,
    );
  }
  flush(lines + 1);
  // The numbers move with the text: on scroll, and after every render (a new text, a
  // rollback, may scroll the textarea without the numbers knowing).
  const follow = () => {
    const area = props.areaRef.current;
    if (numbers.current && area) numbers.current.style.transform = `translateY(${-area.scrollTop}px)`;
  };
  useLayoutEffect(follow);
  const caret = (e: Event) => {
    const area = e.target as HTMLTextAreaElement;
    setCaretLine(area.value.slice(0, area.selectionStart).split('\n').length);
  };
  return (
    <div class="code-editor">
      <div class="gutter" aria-hidden="true">
        <div ref={numbers}>{blocks}</div>
      </div>
      <textarea
        id={props.id}
        ref={props.areaRef}
        class="code"
        rows={props.rows ?? 24}
        wrap="off"
        spellcheck={false}
        autoComplete="off"
        readOnly={props.readOnly}
        aria-describedby={props.describedBy}
        aria-invalid={props.invalid ? 'true' : undefined}
        value={props.value}
        onInput={(e) => {
          props.onInput((e.target as HTMLTextAreaElement).value);
          caret(e);
        }}
        onScroll={follow}
        onKeyUp={caret}
        onClick={caret}
        onFocus={caret}
      />
    </div>
  );
}
