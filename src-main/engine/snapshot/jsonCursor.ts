import { FormatViolation } from '../repository/packFormat.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * A reader of JSON text in a Buffer that skips what it is not asked for without making it: no string for
 * the whole text, no object or string for a skipped value. JSON.parse of a 50,000-entry tree made some
 * 15 MB of string and a million objects and strings of which a listing keeps a few per entry; the
 * garbage collector then took longer than the parse. Every value read or skipped is checked for JSON
 * syntax except inside strings: a control character or a bad escape there is let through (JSON.parse
 * would refuse it) unless the string is read and has escapes. A tree is authenticated before it is read,
 * so this is a check of the format, not a defence.
 */
/** Where a cursor reading a window at a time gets more text: the next bytes written to the start of `into`, how many (0 at the end). */
export interface TextReader {
  read(into: Uint8Array): number;
}

export class JsonCursor {
  private at = 0;
  /** Reading a window at a time: the window's memory (bytes is its filled part), and whether the reader has more. */
  private window: Buffer | undefined;
  private reader: TextReader | undefined;
  private ended = true;
  // The bounds of the last string passed and of the current key, kept in fields rather than returned as
  // small objects: a tree has a dozen keys and strings per entry, and each object was garbage.
  private stringStart = 0;
  private stringEnd = 0;
  private keyStart = 0;
  private keyEnd = 0;

  // One function for every nested value skipped, not a new closure per object or array.
  private readonly skipValue = () => this.skip();

  constructor(private bytes: Buffer) {}

  /**
   * A cursor over text given a window at a time by `reader`, for text read once and not kept (a tree's
   * JSON). Only a caller that walks an array element by element can move the window (see `more`); the
   * rest of the text must lie within the window when it is read.
   */
  static reading(reader: TextReader, windowBytes: number): JsonCursor {
    const cursor = new JsonCursor(Buffer.alloc(0));
    cursor.window = Buffer.allocUnsafe(windowBytes);
    cursor.reader = reader;
    cursor.ended = false;
    cursor.more(0);
    return cursor;
  }

  /** Where the cursor is in the current window. */
  get position(): number {
    return this.at;
  }

  /** Whether fewer than `margin` bytes are left in the window and the reader has more. */
  nearEnd(margin: number): boolean {
    return !this.ended && this.bytes.length - this.at < margin;
  }

  /**
   * Moves the window on: the bytes from `keepFrom` (a position at or before the cursor's) go to its start,
   * followed by as many more as fit, in a window twice as large when what is kept fills half of it.
   * Positions taken before are then off by `keepFrom`. False when the reader had nothing more to give.
   */
  more(keepFrom: number): boolean {
    if (this.ended || !this.window || !this.reader) return false;
    const kept = this.bytes.length - keepFrom;
    if (kept * 2 > this.window.length) {
      const larger = Buffer.allocUnsafe(this.window.length * 2);
      this.bytes.copy(larger, 0, keepFrom);
      this.window = larger;
    } else {
      this.bytes.copy(this.window, 0, keepFrom);
    }
    let filled = kept;
    while (filled < this.window.length) {
      const count = this.reader.read(this.window.subarray(filled));
      if (count === 0) {
        this.ended = true;
        break;
      }
      filled += count;
    }
    this.bytes = this.window.subarray(0, filled);
    this.at -= keepFrom;
    return filled > kept || this.ended;
  }

  /** Goes back to `position` (taken in this window) and moves the window on from there; false when there is nothing more to read. */
  retryFrom(position: number): boolean {
    if (this.ended) return false;
    this.at = position;
    return this.more(position);
  }

  /** The next value's first character (after white space), without moving past it. */
  peek(): number {
    const byte = this.bytes[this.at];
    // Trees are written without white space: the common case costs one look.
    if (byte !== undefined && byte > 0x20) return byte;
    this.skipSpace();
    if (this.at >= this.bytes.length) throw invalid();
    return this.bytes[this.at] as number;
  }

  /** Walks an object, calling `member` at each key (see keyIs, keyLength); `member` must read or skip the value. */
  object(member: () => void): void {
    this.expect(0x7b);
    if (this.peek() === 0x7d) {
      this.at += 1;
      return;
    }
    for (;;) {
      if (this.peek() !== QUOTE) throw invalid();
      this.passString();
      this.keyStart = this.stringStart;
      this.keyEnd = this.stringEnd;
      this.expect(0x3a);
      member();
      const next = this.peek();
      this.at += 1;
      if (next === 0x7d) return;
      if (next !== 0x2c) throw invalid();
    }
  }

  /** Walks an array, calling `element` with each index; `element` must read or skip the value. */
  array(element: (index: number) => void): void {
    this.expect(0x5b);
    if (this.peek() === 0x5d) {
      this.at += 1;
      return;
    }
    for (let index = 0; ; index++) {
      element(index);
      const next = this.peek();
      this.at += 1;
      if (next === 0x5d) return;
      if (next !== 0x2c) throw invalid();
    }
  }

  /** The current key's length in bytes (as written, escapes and all). */
  get keyLength(): number {
    return this.keyEnd - this.keyStart;
  }

  /** Whether the current key is `name` (an ASCII key without escapes), compared without making a string of it. */
  keyIs(name: string): boolean {
    if (this.keyEnd - this.keyStart !== name.length) return false;
    for (let i = 0; i < name.length; i++) if (this.bytes[this.keyStart + i] !== name.charCodeAt(i)) return false;
    return true;
  }

  /**
   * Which of `words` a string value is, returned as the word itself: no new string is made (unless the
   * value has escapes). Undefined when the value is another string or not a string (then skipped).
   */
  oneOf(words: readonly string[]): string | undefined {
    if (this.peek() !== QUOTE) {
      this.skip();
      return undefined;
    }
    this.passString();
    const length = this.stringEnd - this.stringStart;
    for (let i = this.stringStart; i < this.stringEnd; i++) {
      if (this.bytes[i] === BACKSLASH) {
        const text = this.parseSlice(this.stringStart - 1, this.stringEnd + 1) as string;
        return words.find((word) => word === text);
      }
    }
    // Indexed, not for…of: before V8 optimises this, each iteration of for…of makes an object.
    for (let w = 0; w < words.length; w++) {
      const word = words[w] as string;
      if (word.length !== length) continue;
      let i = 0;
      while (i < length && this.bytes[this.stringStart + i] === word.charCodeAt(i)) i++;
      if (i === length) return word;
    }
    return undefined;
  }

  /**
   * A string value of decimal digits (an optional minus sign, then 1 to 30 digits), as a number of
   * units of 10^`dropDigits` rounded toward zero (nanoseconds to milliseconds: 6), read from the bytes
   * without making a string. Undefined when the value is anything else (then passed or skipped). An
   * escaped digit (\u0031) is JSON too: such a string is read as JSON.parse reads it.
   */
  decimalString(dropDigits: number): number | undefined {
    if (this.peek() !== QUOTE) {
      this.skip();
      return undefined;
    }
    this.passString();
    let start = this.stringStart;
    const end = this.stringEnd;
    for (let i = start; i < end; i++) if (this.bytes[i] === BACKSLASH) return decimalOf(this.parseSlice(start - 1, end + 1) as string, dropDigits);
    const negative = this.bytes[start] === 0x2d;
    if (negative) start += 1;
    if (end - start < 1 || end - start > 30) return undefined;
    let value = 0;
    for (let i = start; i < end; i++) {
      const byte = this.bytes[i] as number;
      if (byte < 0x30 || byte > 0x39) return undefined;
      if (i < end - dropDigits) value = value * 10 + byte - 0x30;
    }
    return negative && value !== 0 ? -value : value;
  }

  /** A string value, or undefined when the value is something else (then skipped). */
  string(): string | undefined {
    if (this.peek() !== QUOTE) {
      this.skip();
      return undefined;
    }
    this.passString();
    const start = this.stringStart;
    const end = this.stringEnd;
    // Without escapes the text is the bytes themselves; with them, JSON.parse of the string alone.
    for (let i = start; i < end; i++) if (this.bytes[i] === BACKSLASH) return this.parseSlice(start - 1, end + 1) as string;
    return this.bytes.toString('utf8', start, end);
  }

  /** Any value as JSON.parse makes it: for the few small values a caller wants whole. */
  value(): unknown {
    this.skipSpace();
    const start = this.at;
    this.skip();
    return this.parseSlice(start, this.at);
  }

  /** Moves past one value of any kind, checking its syntax. */
  skip(): void {
    const first = this.peek();
    if (first === QUOTE) this.passString();
    else if (first === 0x7b) this.object(this.skipValue);
    else if (first === 0x5b) this.array(this.skipValue);
    else if (first === 0x74) this.literal('true');
    else if (first === 0x66) this.literal('false');
    else if (first === 0x6e) this.literal('null');
    else this.skipNumber();
  }

  /** Checks that only white space is left. */
  end(): void {
    this.skipSpace();
    while (this.at === this.bytes.length && this.more(this.at)) this.skipSpace();
    if (this.at !== this.bytes.length) throw invalid();
  }

  /** A number value (checked as JSON.parse would, whole numbers read without making a string), or undefined when the value is something else (then skipped). */
  number(): number | undefined {
    const first = this.peek();
    if (first !== 0x2d && !isDigit(first)) {
      this.skip();
      return undefined;
    }
    const start = this.at;
    const integer = this.skipNumber();
    if (!integer || this.at - start > 15) return Number(this.bytes.toString('latin1', start, this.at));
    let value = 0;
    for (let i = first === 0x2d ? start + 1 : start; i < this.at; i++) value = value * 10 + (this.bytes[i] as number) - 0x30;
    return first === 0x2d ? -value : value;
  }

  /** Moves past a number, checking JSON's grammar for it; whether it is a whole number without exponent. */
  private skipNumber(): boolean {
    const bytes = this.bytes;
    if (bytes[this.at] === 0x2d) this.at += 1;
    if (bytes[this.at] === 0x30) this.at += 1;
    else if (isDigit(bytes[this.at])) while (isDigit(bytes[this.at])) this.at += 1;
    else throw invalid();
    let integer = true;
    if (bytes[this.at] === 0x2e) {
      integer = false;
      this.at += 1;
      if (!isDigit(bytes[this.at])) throw invalid();
      while (isDigit(bytes[this.at])) this.at += 1;
    }
    if (bytes[this.at] === 0x65 || bytes[this.at] === 0x45) {
      integer = false;
      this.at += 1;
      if (bytes[this.at] === 0x2b || bytes[this.at] === 0x2d) this.at += 1;
      if (!isDigit(bytes[this.at])) throw invalid();
      while (isDigit(bytes[this.at])) this.at += 1;
    }
    return integer;
  }

  private literal(word: string): void {
    if (this.bytes.toString('latin1', this.at, this.at + word.length) !== word) throw invalid();
    this.at += word.length;
  }

  /** Moves past a string, noting where its content starts and ends (between the quotes). */
  private passString(): void {
    const bytes = this.bytes;
    const start = this.at + 1;
    let quote = start;
    for (;;) {
      // Looked for here rather than with indexOf, whose call costs more than the few bytes of a key or a time.
      while (quote < bytes.length && bytes[quote] !== QUOTE) quote++;
      if (quote >= bytes.length) throw invalid();
      // A quote after an odd number of backslashes is escaped: part of the string.
      let backslashes = 0;
      while (bytes[quote - 1 - backslashes] === BACKSLASH) backslashes += 1;
      if (backslashes % 2 === 0) break;
      quote += 1;
    }
    this.at = quote + 1;
    this.stringStart = start;
    this.stringEnd = quote;
  }

  private expect(byte: number): void {
    if (this.peek() !== byte) throw invalid();
    this.at += 1;
  }

  private skipSpace(): void {
    let byte = this.bytes[this.at];
    while (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) byte = this.bytes[++this.at];
  }

  private parseSlice(start: number, end: number): unknown {
    try {
      return JSON.parse(this.bytes.toString('utf8', start, end));
    } catch {
      throw invalid();
    }
  }
}

/** The decimal text `text` (see decimalString) as a number of units of 10^dropDigits, or undefined when it is not decimal. */
function decimalOf(text: string, dropDigits: number): number | undefined {
  if (!/^-?\d{1,30}$/.test(text)) return undefined;
  const kept = text.slice(0, Math.max(0, text.length - dropDigits));
  return kept === '' || kept === '-' ? 0 : Number(kept) || 0;
}

function isDigit(byte: number | undefined): boolean {
  return byte !== undefined && byte >= 0x30 && byte <= 0x39;
}

/** The text is not JSON (as opposed to JSON of an unexpected shape). */
export class JsonSyntaxError extends FormatViolation {}

function invalid(): JsonSyntaxError {
  return new JsonSyntaxError('tree is not valid JSON');
}
