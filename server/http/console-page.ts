import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

const PAGE = new URL('../../web-console/index.html', import.meta.url);

/** Serves the web console at `/`. */
export const consolePage = fp(
  async (app: FastifyInstance) => {
    const html = await readFile(PAGE, 'utf8');
    app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.type('text/html; charset=utf-8').send(html));
  },
  { name: 'cueroom-console-page' },
);
