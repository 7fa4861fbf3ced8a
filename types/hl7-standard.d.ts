/**
 * Types for hl7-standard 1.0.4 (the package ships none), written from its src/api.js and the
 * measurements in shared/libraries.md §1. Only what passerelle's tests use is declared.
 * Keep it off the data path: it forces `|^~\&`, ignores escapes, and build() turns
 * sub-components `a&b&c` into repetitions (see connectors/hl7v2/README.md § Codec).
 */
declare module 'hl7-standard' {
  /** A field value after transform(): its shape depends on the data (see get()). */
  export type Hl7StandardComponents = Record<string, string | string[]>;
  export type Hl7StandardValue = string | Hl7StandardComponents | Array<Hl7StandardComponents | string>;

  export interface Hl7StandardOptions {
    /** Despite the name, the REPETITION separator (default '~'). */
    subComponents?: string;
    /** Despite the name, the SUB-COMPONENT separator (default '&'). */
    repeatingFields?: string;
    /** Segment separator used by build() (default '\r\n'). */
    lineEndings?: string;
  }

  export interface Hl7StandardSegment {
    readonly type: string;
    /** Keys are `SEG.n`; MSH-2 is forced to `^~\&`. */
    data: Record<string, Hl7StandardValue>;
    index: number;
    get(field: string, sectionIndex?: number, subIndex?: number): Hl7StandardValue | null | undefined;
    set(field: string, value: string | string[], sectionIndex?: number, subIndex?: number): unknown;
  }

  export default class HL7 {
    constructor(data?: string, opts?: Hl7StandardOptions);
    raw: string;
    transformed: Record<string, Hl7StandardSegment[]>;
    /** Throws a plain Error if the data does not start with MSH/FHS/BHS or has a bad segment name. */
    transform(cb?: (err: Error | null, data: unknown) => void, batch?: boolean): void;
    /**
     * `get('PID.5.1', segmentIndex, repetitionIndex, subComponentIndex)`, all indexes 0-based.
     * With a `SEG.F.C` notation the result is a string (or undefined/null when absent).
     * Throws a TypeError when segmentIndex is past the last segment of that name.
     */
    get(
      field: string,
      index?: number,
      sectionIndex?: number,
      subIndex?: number,
    ): Hl7StandardValue | null | undefined;
    set(
      field: string,
      value: string | string[],
      index?: number,
      sectionIndex?: number,
      subIndex?: number,
    ): unknown;
    getSegment(name: string): Hl7StandardSegment | null;
    getSegments(name?: string): Hl7StandardSegment[];
    createSegment(name: string): Hl7StandardSegment;
    build(): string;
  }
}
