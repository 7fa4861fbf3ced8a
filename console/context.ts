/** What every page reads: the session and the practice shown (the header's selector). */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';

import type { Session } from './session.js';

export interface Practice {
  readonly id: string;
  readonly name: string;
}

export interface ConsoleContext {
  readonly session: Session;
  readonly practices: readonly Practice[];
  /** null: every practice the session may see (only for sessions not limited to one). */
  readonly practiceId: string | null;
  setPracticeId(id: string | null): void;
}

export const Ctx = createContext<ConsoleContext | null>(null);

export function useConsole(): ConsoleContext {
  const c = useContext(Ctx);
  if (!c) throw new Error('useConsole outside the console');
  return c;
}
