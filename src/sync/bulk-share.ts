// The bulk lane's minimum share of sync claims: live rows go first, but while live rows keep coming the backlog
// must still move. Each claim owes bulk `share` of its rows; the fraction is carried from claim to claim (so a
// claim of one row still gives bulk one claim in 1/share), and nothing is banked while bulk has nothing waiting.

export class BulkShare {
  #owed = 0;

  constructor(private readonly share: number) {
    if (!(share >= 0 && share <= 1)) throw new RangeError(`the bulk share must be between 0 and 1, got ${share}`);
  }

  /** Rows of a claim of `limit` reserved for bulk (sql/claim.sql's $5). */
  reserve(limit: number): number {
    this.#owed = Math.min(limit, this.#owed + limit * this.share);
    return Math.floor(this.#owed);
  }

  /** What the claim took: bulk rows pay off the debt; fewer than reserved means bulk ran dry, and owes nothing. */
  took(reserved: number, bulkRows: number): void {
    this.#owed = bulkRows < reserved ? 0 : Math.max(0, this.#owed - bulkRows);
  }
}
