// `node --import ./bench/ts-register.mjs`: compiles `.ts` modules as the CLI bundle does (bench/ts-hooks.mjs).
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
