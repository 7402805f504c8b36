import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

/** Where `npm run build:console` (run by `npm start` first) puts the built console. */
const DIST = fileURLToPath(new URL('../../web-console/dist/', import.meta.url));

/** Paths that belong to the API: an unknown one there is a JSON 404, never the console page. */
const NOT_THE_CONSOLE = /^\/(v1|documentation|healthz|readyz|metrics)(\/|$)/;

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Cueroom</title></head>
<body><main><h1>Cueroom</h1><p>The web console is not built. Run <code>npm run build:console</code>
(<code>npm start</code> does it for you) and reload.</p></main></body></html>`;

export interface ConsolePageOptions {
  /** Folder of the built console; default web-console/dist. */
  root?: string;
}

/**
 * Serves the web console: hashed assets from the Vite build (cached for a year), and
 * index.html (never cached) at `/` and at any other browser path (SPA fallback).
 */
export const consolePage = fp(
  async (app: FastifyInstance, options: ConsolePageOptions) => {
    const root = options.root ?? DIST;
    const indexFile = `${root}/index.html`;
    const built = existsSync(indexFile);
    const html = built ? await readFile(indexFile, 'utf8') : NOT_BUILT;
    if (!built) app.log.warn('web console not built (web-console/dist missing): run npm run build:console');
    else {
      await app.register(fastifyStatic, {
        root,
        prefix: '/',
        // Only the files present at start get routes: no catch-all from the plugin.
        wildcard: false,
        index: false,
        decorateReply: false,
        cacheControl: false,
        setHeaders(reply, path) {
          reply.header('cache-control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
        },
      });
    }
    const page = async (_request: FastifyRequest, reply: FastifyReply) =>
      reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(html);
    app.get('/', { schema: { hide: true } }, page);
    app.get('/*', { schema: { hide: true } }, async (request, reply) => {
      const accepts = request.headers.accept ?? '';
      if (NOT_THE_CONSOLE.test(request.url) || !accepts.includes('text/html')) return reply.callNotFound();
      return page(request, reply);
    });
  },
  { name: 'cueroom-console-page' },
);
