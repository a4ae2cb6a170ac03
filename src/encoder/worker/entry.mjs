// Worker-thread bootstrap: the encoder worker is TypeScript, and a worker does not inherit the loader the main
// thread registered, so it registers tsx itself before loading it.
import { register } from 'tsx/esm/api';

register();
await import('./encode-worker.ts');
