/**
 * Bytes kept in a ring of fixed-size pages, each allocated when first written: what is written
 * last overwrites what was written first, once `capacity` bytes have gone in. Positions grow
 * forever; one older than `oldest` has been overwritten. The workbench keeps its history's
 * variable parts (headers, bodies, logs) here rather than in objects: a thousand invocations'
 * objects outlived the young generation and made the garbage collector copy and mark them.
 */
export class ByteRing {
  private readonly pages: Buffer[] = [];
  private head = 0;

  constructor(
    readonly capacity: number,
    private readonly pageSize = 1 << 20,
  ) {
    if (capacity % pageSize !== 0) throw new RangeError('a ByteRing holds whole pages');
  }

  /** The oldest position still held. */
  get oldest(): number {
    return Math.max(0, this.head - this.capacity);
  }

  /** Whether the bytes from `at` on are all still held. */
  holds(at: number): boolean {
    return at >= this.oldest;
  }

  private page(pos: number): Buffer {
    const i = Math.floor(pos / this.pageSize) % (this.capacity / this.pageSize);
    return (this.pages[i] ??= Buffer.allocUnsafeSlow(this.pageSize));
  }

  /** Writes bytes (at most `capacity`); returns where they begin. */
  write(bytes: Uint8Array): number {
    const at = this.head;
    let done = 0;
    while (done < bytes.length) {
      const off = this.head % this.pageSize;
      const n = Math.min(bytes.length - done, this.pageSize - off);
      this.page(this.head).set(bytes.subarray(done, done + n), off);
      done += n;
      this.head += n;
    }
    return at;
  }

  /** Writes a string as UTF-8; returns where it begins and its length in bytes. */
  writeString(s: string): { at: number; length: number } {
    const off = this.head % this.pageSize;
    // Mostly it fits in the page: encoded in place, no copy of its own.
    if (s.length * 3 <= this.pageSize - off) {
      const at = this.head;
      const length = this.page(at).write(s, off, 'utf8');
      this.head += length;
      return { at, length };
    }
    const bytes = Buffer.from(s, 'utf8');
    return { at: this.write(bytes), length: bytes.length };
  }

  /** A copy of `length` bytes from `at`, or undefined once they have been overwritten. */
  read(at: number, length: number): Buffer | undefined {
    if (!this.holds(at)) return undefined;
    const out = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const pos = at + done;
      const off = pos % this.pageSize;
      const n = Math.min(length - done, this.pageSize - off);
      this.page(pos).copy(out, done, off, off + n);
      done += n;
    }
    return out;
  }
}
