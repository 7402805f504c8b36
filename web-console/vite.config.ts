import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/*
 * The console is built into web-console/dist and served by the server (server/http/console-page.ts).
 * Preact needs no plugin: JSX goes through the automatic runtime with preact as the import source.
 */
const modelConstants = fileURLToPath(new URL('./src/model-constants.ts', import.meta.url));

export default defineConfig({
  plugins: [
    {
      name: 'cueroom-reducer-without-zod',
      enforce: 'pre',
      resolveId(source, importer) {
        if (importer?.replaceAll('\\', '/').endsWith('server/domain/evolve.ts') && source.endsWith('shared/model.js'))
          return modelConstants;
        return null;
      },
    },
  ],
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: true,
  },
});
