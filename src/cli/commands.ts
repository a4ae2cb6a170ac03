// Command table: each command lives in its own file (a callable function + this thin wrapper), loaded lazily
// so `embedsync embed` never pays for Fastify or pg. The help texts live here, next to the table, so
// `embedsync <command> --help` answers without loading the command (no side effects, no model, no database).
import type { Command } from './context.ts';

type Loader = () => Promise<Command>;

export const COMMANDS: Readonly<Record<string, Loader>> = {
  embed: async () => (await import('./embed.ts')).embedCommand,
  model: async () => (await import('./model.ts')).modelCommand,
  migrate: async () => (await import('./migrate.ts')).migrateCommand,
  remove: async () => (await import('./remove.ts')).removeCommand,
  run: async () => (await import('./run.ts')).runCommand,
  status: async () => (await import('./status.ts')).statusCommand,
  doctor: async () => (await import('./doctor.ts')).doctorCommand,
  deadletter: async () => (await import('./deadletter.ts')).deadletterCommand,
  index: async () => (await import('./index-cmd.ts')).indexCommand,
  search: async () => (await import('./search.ts')).searchCommand,
};

interface Help {
  /** One line for the overview. */
  readonly synopsis: string;
  readonly summary: string;
  /** Lines of `embedsync <command> --help` after the synopsis. */
  readonly details: readonly string[];
  /** Sub-commands with their own --help. */
  readonly sub?: Readonly<Record<string, readonly string[]>>;
}

export const HELP: Readonly<Record<string, Help>> = {
  run: {
    synopsis: 'run [--no-http] [--no-sync]', summary: 'run the sync daemon and the HTTP embedding API',
    details: ['  --no-http   sync only (no HTTP API)', '  --no-sync   HTTP API only (no sync worker)',
      'Stops cleanly on the first SIGTERM/SIGINT. Settings: docs/configuration.md.'],
  },
  migrate: {
    synopsis: 'migrate [--dry-run] [--in-place] [--abort] [--update-settings]',
    summary: 'install or upgrade the schema; handle a model or dimension change',
    details: ['  --dry-run    print the plan (rows to embed, time, index) and change nothing',
      '  --update-settings   record table settings that differ from the ones recorded (otherwise refused)',
      '  --in-place   on a dimension change, drop the old vectors instead of a shadow migration',
      '  --abort      abandon a shadow migration under way',
      'Adds the vector columns, triggers, search functions and index; enqueues rows whose embedding is missing or stale.'],
  },
  remove: {
    synopsis: 'remove [TABLE] [--drop-columns] [--dry-run]', summary: 'take embedsync off a table',
    details: ['  TABLE            the table (default EMBEDSYNC_TABLE)',
      '  --drop-columns   also drop the embedding columns and their index',
      '  --dry-run        print what it would drop and change nothing',
      'Drops the triggers and generated functions, and deletes the queue entries, dead letters, model state, sweep and',
      'index records of the table; the application\'s writes to it work unchanged afterwards.'],
  },
  status: {
    synopsis: 'status [--json] [--exact]', summary: 'queue, dead letters and embedding coverage',
    details: ['  --json    machine-readable output',
      '  --exact   count the rows (a scan of the table); without it a large table\'s coverage is estimated from its statistics',
      'Needs the database only, never the model.'],
  },
  doctor: {
    synopsis: 'doctor [--no-model]', summary: 'check the setup, one line per check with the fix',
    details: ['  --no-model   skip loading the model (no checksum comparison)',
      'Checks the database, pgvector, the source table, triggers, privileges, the model, the queue, dead letters',
      'and the index. Exit code 0 when every check passes, 1 otherwise.'],
  },
  deadletter: {
    synopsis: 'deadletter list|retry', summary: 'inspect and replay rows that failed',
    details: ['  list [--json] [--limit N]   rows that exhausted their attempts, with the last error',
      '  retry (--all | ID...)        move them back to the queue'],
    sub: {
      list: ['usage: embedsync deadletter list [--json] [--limit N]', '  --json      machine-readable output',
        '  --limit N   at most N rows (default 100)'],
      retry: ['usage: embedsync deadletter retry (--all | ID...)', '  --all   every dead letter', '  ID...   only these source row ids'],
    },
  },
  index: {
    synopsis: 'index status|rebuild [--force]', summary: 'vector index state; build or rebuild it when due',
    details: ['  status [--json]     the index against the policy (EMBEDSYNC_INDEX, growth factor, minimum rows)',
      '  rebuild [--force]   build or rebuild when due (always with --force); run it from cron or after a bulk load'],
    sub: {
      status: ['usage: embedsync index status [--json]', '  --json   machine-readable output'],
      rebuild: ['usage: embedsync index rebuild [--force]', '  --force   rebuild even when the policy says it is not due'],
    },
  },
  search: {
    synopsis: 'search "text" [--limit 10] [--hybrid]', summary: 'nearest rows to a query',
    details: ['  "text" | -        the query; - (or no text with stdin piped in) reads it from stdin',
      '  --limit N         at most N rows (1-1000, default 10)', '  --min-score S     only rows scoring at least S (-1..1, default 0)',
      '  --hybrid          full-text and vector ranks fused (embedsync.<table>_hybrid_search): finds codes and names too',
      '  --json            machine-readable output'],
  },
  embed: {
    synopsis: 'embed "text" [--query] [--model DIR]', summary: 'print one embedding as JSON',
    details: ['  "text" | -     the text; - (or no text with stdin piped in) reads it from stdin; use stdin for long texts',
      '  --query        embed with the query prompt (default: the document prompt)',
      '  --model DIR    a model folder instead of EMBEDDING_MODEL'],
  },
  model: {
    synopsis: 'model info|make-test|import', summary: 'model details; write the test model; import a checkpoint',
    details: ['  info [--model DIR] [--json]        what the encoder loads and how it encodes',
      '  make-test <dir>                    write the tiny random-weight test model to <dir>',
      '  import <hub-id | dir> [--out DIR]  convert a Hugging Face checkpoint (docs/models.md)'],
    sub: {
      info: ['usage: embedsync model info [--model DIR] [--json]', '  --model DIR   a model folder instead of EMBEDDING_MODEL',
        '  --json        machine-readable output'],
      'make-test': ['usage: embedsync model make-test <dir>',
        'Writes the tiny test model (random weights: real pipeline, meaningless similarities) to <dir>.'],
      import: ['usage: embedsync model import <hub-id | dir> [--out DIR] [--quantize int8] [--graph fused|plain] ' +
        '[--int8-kernel dqmatmul|dqmatmul-u8|nbits]',
        '  --out DIR           also copy the imported model to DIR', '  --quantize int8     int8 weights',
        '  --graph fused|plain the encoder graph variant', '  --int8-kernel K     int8 kernel for --quantize int8'],
    },
  },
};

export function usage(): string {
  const rows = Object.values(HELP).map((h) => [h.synopsis, h.summary] as const);
  const width = Math.max(...rows.map(([c]) => c.length));
  return `usage: embedsync <command>\n\n${rows.map(([c, d]) => `  ${c.padEnd(width)}  ${d}`).join('\n')}\n\n` +
    '`embedsync <command> --help` for a command\'s options; `embedsync --version`.\n';
}

/** `embedsync <command> [sub] --help`: the sub-command's usage when it has one, else the command's. */
export function commandUsage(name: string, argv: readonly string[]): string {
  const h = HELP[name];
  if (!h) return usage();
  const sub = argv[0] !== undefined && !argv[0].startsWith('-') ? h.sub?.[argv[0]] : undefined;
  if (sub) return `${sub.join('\n')}\n`;
  return `usage: embedsync ${h.synopsis}\n${h.summary}\n\n${h.details.join('\n')}\n`;
}

/** --help / -h anywhere before a `--` (after which everything is an operand, e.g. a text starting with -). */
export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/**
 * ONNX Runtime's session creation uses stack in proportion to the command line's size: with the default stack of
 * a Node worker thread it crashed (SIGSEGV) from about 14.5 KB of arguments. The encoder's workers get a 64 MB
 * stack, measured to load the model with 200 KB of arguments; long text still belongs on stdin, so the command
 * line is refused well below that.
 */
export const MAX_ARGV_BYTES = 64 * 1024;

export function argvProblem(argv: readonly string[]): string | undefined {
  const bytes = argv.reduce((n, a) => n + Buffer.byteLength(a) + 1, 0);
  if (bytes <= MAX_ARGV_BYTES) return undefined;
  return `the command line is ${Math.ceil(bytes / 1024)} KB; arguments above ${MAX_ARGV_BYTES / 1024} KB are refused. ` +
    'Pass long text on stdin instead: `embedsync embed - < text.txt` (or `... | embedsync embed`), `embedsync search - < query.txt`';
}
