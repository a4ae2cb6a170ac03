// Reads the messages of PostgreSQL's pgoutput plugin (logical replication protocol version 1), as
// pg_logical_slot_peek_binary_changes returns them, one message per row. Only what logical capture needs:
// transaction bounds, the relation's column names, and the column values of inserted and updated rows in text
// form. Message layout: https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html

export type PgOutputMessage =
  | { readonly kind: 'begin' }
  | { readonly kind: 'commit' }
  | { readonly kind: 'relation'; readonly relid: number; readonly columns: readonly string[] }
  /** values[i]: text, null (SQL NULL) or undefined (an unchanged TOASTed value, not sent). */
  | { readonly kind: 'insert' | 'update'; readonly relid: number; readonly values: readonly (string | null | undefined)[] }
  | { readonly kind: 'other'; readonly tag: string };

class Reader {
  private at = 0;
  constructor(private readonly b: Buffer) {}
  byte(): string { return String.fromCharCode(this.b.readUInt8(this.at++)); }
  int16(): number { const v = this.b.readInt16BE(this.at); this.at += 2; return v; }
  int32(): number { const v = this.b.readInt32BE(this.at); this.at += 4; return v; }
  uint32(): number { const v = this.b.readUInt32BE(this.at); this.at += 4; return v; }
  skip(n: number): void { this.at += n; }
  string(): string {
    const end = this.b.indexOf(0, this.at);
    if (end < 0) throw new Error('pgoutput: unterminated string');
    const s = this.b.toString('utf8', this.at, end);
    this.at = end + 1;
    return s;
  }
  bytes(n: number): string { const s = this.b.toString('utf8', this.at, this.at + n); this.at += n; return s; }
}

function tuple(r: Reader): (string | null | undefined)[] {
  const n = r.int16();
  const values: (string | null | undefined)[] = [];
  for (let i = 0; i < n; i++) {
    const t = r.byte();
    if (t === 'n') values.push(null);
    else if (t === 'u') values.push(undefined);
    else if (t === 't' || t === 'b') values.push(r.bytes(r.int32()));
    else throw new Error(`pgoutput: unknown tuple value kind ${JSON.stringify(t)}`);
  }
  return values;
}

export function parsePgOutput(data: Buffer): PgOutputMessage {
  const r = new Reader(data);
  const tag = r.byte();
  switch (tag) {
    case 'B': return { kind: 'begin' };
    case 'C': return { kind: 'commit' };
    case 'R': {
      const relid = r.uint32();
      r.string(); // namespace
      r.string(); // relation name
      r.skip(1); // replica identity setting
      const n = r.int16();
      const columns: string[] = [];
      for (let i = 0; i < n; i++) {
        r.skip(1); // flags (part of the key)
        columns.push(r.string());
        r.skip(8); // type oid, type modifier
      }
      return { kind: 'relation', relid, columns };
    }
    case 'I': {
      const relid = r.uint32();
      if (r.byte() !== 'N') throw new Error('pgoutput: insert without a new tuple');
      return { kind: 'insert', relid, values: tuple(r) };
    }
    case 'U': {
      const relid = r.uint32();
      let t = r.byte();
      // The old key or old row, sent when the key changed or under REPLICA IDENTITY FULL: the new row follows.
      if (t === 'K' || t === 'O') { tuple(r); t = r.byte(); }
      if (t !== 'N') throw new Error('pgoutput: update without a new tuple');
      return { kind: 'update', relid, values: tuple(r) };
    }
    default: return { kind: 'other', tag };
  }
}
