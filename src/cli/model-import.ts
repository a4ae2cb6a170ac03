// `embedsync model import <hub-id | dir> [--out DIR] [--quantize int8] [--graph fused|plain] [--int8-kernel K]`:
// converts a Hugging Face BERT / RoBERTa / XLM-RoBERTa checkpoint into the folder layout the encoder loads.
// A hub id downloads into the model cache (with a progress bar, resuming broken downloads; a single or sharded
// checkpoint) and is imported there, so EMBEDDING_MODEL=<hub id> finds it later; --out also copies the result
// to a folder.
import { cp, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError, type CommandContext } from './context.ts';
import { GRAPH_VARIANTS, INT8_KERNELS, type GraphVariant, type Int8Kernel } from '../model/encoder-graph.ts';
import type { ImportResult } from '../model/import-checkpoint.ts';

const USAGE = 'usage: embedsync model import <hub-id | dir> [--out DIR] [--quantize int8] [--graph fused|plain] ' +
  '[--int8-kernel dqmatmul|dqmatmul-u8|nbits]';

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

export async function modelImport(ctx: CommandContext): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...ctx.argv],
      allowPositionals: true,
      options: {
        out: { type: 'string' },
        quantize: { type: 'string' },
        graph: { type: 'string' },
        'int8-kernel': { type: 'string' },
      },
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  const problems: string[] = [];
  if (positionals.length !== 1) problems.push('exactly one model (hub id or folder) is needed');
  if (values.quantize !== undefined && values.quantize !== 'int8') problems.push(`--quantize ${values.quantize}: only int8 is supported`);
  if (values.graph !== undefined && !GRAPH_VARIANTS.includes(values.graph as GraphVariant)) {
    problems.push(`--graph ${values.graph}: one of ${GRAPH_VARIANTS.join(', ')}`);
  }
  const kernel = values['int8-kernel'];
  if (kernel !== undefined && !INT8_KERNELS.includes(kernel as Int8Kernel)) {
    problems.push(`--int8-kernel ${kernel}: one of ${INT8_KERNELS.join(', ')}`);
  }
  if (problems.length) throw new UsageError(`${problems.join('; ')}\n${USAGE}`);

  const { importModel } = await import('../model/import-checkpoint.ts');
  const source = positionals[0]!;
  const out = values.out === undefined ? undefined : resolve(ctx.cwd, values.out);
  const graphOptions = {
    ...(values.graph ? { variant: values.graph as GraphVariant } : {}),
    ...(kernel ? { int8Kernel: kernel as Int8Kernel } : {}),
    log: (line: string) => ctx.stderr.write(`${line}\n`),
  };
  const options = { ...graphOptions, ...(values.quantize === 'int8' ? { quantize: 'int8' as const } : {}) };
  const local = resolve(ctx.cwd, source);
  let result;
  if (await stat(local).then((s) => s.isDirectory(), () => false)) {
    result = await importModel(local, { ...options, ...(out ? { outDir: out } : {}) });
  } else {
    const { parseHubId, downloadModel } = await import('../model/hub-download.ts');
    const hub = parseHubId(source);
    if (!hub) throw new UsageError(`${JSON.stringify(source)} is neither an existing folder nor a hub id (org/name[@revision])\n${USAGE}`);
    const model = ctx.config().model;
    const imports: ImportResult[] = [];
    const download = (dtype: 'fp32' | 'int8') => downloadModel(hub, {
      endpoint: model.hfEndpoint, token: model.hfToken, cacheDir: model.cacheDir, dtype,
      progress: ctx.stderr, signal: ctx.signal,
      importOptions: graphOptions,
      onImport: (r) => imports.push(r),
    });
    // fp32 first: with a checkpoint-only repo the int8 import then adds just the quantized file.
    let dir = await download('fp32');
    if (values.quantize === 'int8') dir = await download('int8');
    if (out) {
      // Everything the encoder loads, without the checkpoint weights and download bookkeeping.
      await cp(dir, out, {
        recursive: true,
        filter: (src) => !/\.safetensors$|\.safetensors\.index\.json$|\.part$/.test(src) && !basename(src).startsWith('.complete'),
      });
    }
    if (!imports.length) {
      ctx.stdout.write(`${hub.repo}: the ONNX files came from the hub or the model cache, nothing to import; ` +
        `${out ?? dir} is ready to load\n`);
      return 0;
    }
    result = {
      outDir: out ?? dir,
      config: imports[0]!.config,
      written: imports.flatMap((r) => r.written),
      copied: [],
      seconds: imports.reduce((s, r) => s + r.seconds, 0),
    };
  }
  for (const w of result.written) {
    ctx.stdout.write(`wrote ${w.path} (${mb(w.bytes)}${w.externalData ? ` + ${w.externalData} ${mb(w.externalBytes ?? 0)}` : ''})\n`);
  }
  if (result.copied.length) ctx.stdout.write(`copied ${result.copied.join(', ')}\n`);
  ctx.stdout.write(`imported ${result.config.modelType} (${result.config.numLayers} layers, hidden ${result.config.hiddenSize}) ` +
    `into ${result.outDir} in ${result.seconds.toFixed(1)} s\n`);
  return 0;
}
