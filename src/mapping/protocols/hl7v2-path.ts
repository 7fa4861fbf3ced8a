/**
 * HL7 paths as profiles write them: the codec's `SEG[n]-F[r].C.S` (connectors/hl7v2/README.md),
 * plus one extension for repeating fields whose repetitions are told apart by a value:
 *
 *   PID-3[4.2=1.2.250.1.999.1.1].1   the PID-3 repetition whose component 4.2 (assigning
 *                                    authority OID) is the practice's; its component 1 (the IPP)
 *   PID-5[7=L].1                     the name whose type (XPN.7) is L: the birth name
 *   PID-13[3=CP].12                  the cell-phone repetition's number
 *
 * Reading picks the first repetition whose selector matches; writing reuses that repetition or
 * allocates the next free one and writes the selector value into it. Both halves are compiled
 * once into codec `Hl7Path` objects; nothing is parsed per message.
 */
import { type Hl7Message, type Hl7Path, formatHl7Path, parseHl7Path } from '../../hl7/index.js';
import { isPasserelleError } from '../../errors.js';

export interface Hl7Selector {
  /** Path of the selector leaf over every repetition (`PID-3[*].4.2`). */
  readonly path: Hl7Path;
  readonly value: string;
  /** The selector's component / sub-component in the repetition: [4, 2]. */
  readonly component: number;
  readonly subcomponent: number | undefined;
}

export interface ProfileHl7Path {
  readonly text: string;
  /** The leaf; with a selector its repetition is `*` (read with getAll). */
  readonly path: Hl7Path;
  readonly selector: Hl7Selector | undefined;
  /** Segment occurrence + field, the unit repetitions are allocated in: `PID[1]-3`. */
  readonly fieldKey: string;
  readonly segment: string;
  /** The leaf at repetition r (index r), built on first use: no path object per read. */
  readonly reps: Hl7Path[];
}

const SELECTOR = /^([A-Z][A-Z0-9]{2}(?:\[[0-9]+\])?-[0-9]+)\[([0-9]+)(?:\.([0-9]+))?=([^\]]+)\](.*)$/;
const LOOKS_HL7 = /^[A-Z][A-Z0-9]{2}(\[[0-9*]+\])?-/;

/** Whether text looks like an HL7 path (used to tell a protocol mismatch from a typo). */
export function looksLikeHl7Path(text: string): boolean {
  return LOOKS_HL7.test(text);
}

/** Parses a profile HL7 path; throws an Error whose message names the problem. */
export function parseProfileHl7Path(text: string): ProfileHl7Path {
  const m = SELECTOR.exec(text);
  try {
    if (!m) {
      const path = parseHl7Path(text);
      return { text, path, selector: undefined, fieldKey: `${path.segment}[${path.occurrence ?? 1}]-${path.field}`, segment: path.segment, reps: [] };
    }
    const [, head, comp, sub, value, rest] = m as unknown as [string, string, string, string | undefined, string, string];
    const path = parseHl7Path(`${head}[*]${rest}`);
    const selPath = parseHl7Path(`${head}[*].${comp}${sub ? `.${sub}` : ''}`);
    return {
      text,
      path,
      selector: { path: selPath, value, component: Number(comp), subcomponent: sub === undefined ? undefined : Number(sub) },
      fieldKey: `${path.segment}[${path.occurrence ?? 1}]-${path.field}`,
      segment: path.segment,
      reps: [],
    };
  } catch (e) {
    if (isPasserelleError(e)) throw new Error(e.message.startsWith(`${text}: `) ? e.message.slice(text.length + 2) : e.message, { cause: e });
    throw e;
  }
}

/**
 * Per message memo of selector reads, keyed by the compiled (interned) objects: several rules
 * share a selector (the IPP is the patient's id, its identifier and the appointment's patient
 * reference; five selectors look at PID-3.4.2; three rules read the birth name PID-5[7=L]).
 */
export type SelectorCache = Map<object, string | readonly string[] | number | null>;

/** The leaf path at one repetition, built once per profile path and repetition. */
function atRepetition(p: ProfileHl7Path, rep: number): Hl7Path {
  return (p.reps[rep] ??= withRepetition(p.path, rep));
}

/** The value at `p`; absent, empty and the HL7 null `""` are all undefined (a message is a full snapshot). */
export function readHl7(msg: Hl7Message, p: ProfileHl7Path, cache?: SelectorCache): string | undefined {
  let v: string | undefined;
  const sel = p.selector;
  if (sel === undefined) v = msg.get(p.path);
  else {
    const hit = cache?.get(p);
    if (hit !== undefined) return hit === null ? undefined : (hit as string);
    let at = cache?.get(sel) as number | undefined;
    if (at === undefined) {
      let keys = cache?.get(sel.path) as readonly string[] | undefined;
      if (keys === undefined) {
        keys = msg.getAll(sel.path);
        cache?.set(sel.path, keys);
      }
      at = keys.findIndex((k) => k.trim() === sel.value);
      cache?.set(sel, at);
    }
    v = at < 0 ? undefined : msg.get(atRepetition(p, at + 1));
    const out = present(v);
    cache?.set(p, out ?? null);
    return out;
  }
  return present(v);
}

/**
 * Values are read trimmed (senders pad fields: `20250317093000 `, ` 38762`); an empty or
 * HL7 null (`""`) value is absent.
 */
function present(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const t = v.trim();
  return t === '' || t === '""' ? undefined : t;
}

/** The path text with an explicit repetition, for reports and the builder. */
export function withRepetition(p: Hl7Path, repetition: number, component?: number, subcomponent?: number): Hl7Path {
  return {
    segment: p.segment,
    occurrence: p.occurrence,
    field: p.field,
    repetition,
    component: component ?? p.component,
    subcomponent: component !== undefined ? subcomponent : p.subcomponent,
  };
}

export { formatHl7Path };
