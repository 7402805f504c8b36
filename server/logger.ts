import pino, { type Logger } from 'pino';
import type { LogLevel } from './config.js';

/**
 * JSON logs; pretty only on a TTY. Tokens never reach the log: the Authorization header
 * and the `token` query parameter of WebSocket upgrades are redacted.
 */
export function createLogger(level: LogLevel, instanceId: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { instance: instanceId },
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'token', 'adminToken', 'tokenSecret'],
      censor: '[redacted]',
    },
    serializers: {
      req(request: { method: string; url: string; id: string }) {
        return { id: request.id, method: request.method, url: redactUrl(request.url) };
      },
    },
  };
  if (destination) return pino(options, destination);
  if (process.stdout.isTTY) {
    options.transport = { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } };
  }
  return pino(options);
}

export function redactUrl(url: string): string {
  return url.replace(/([?&]token=)[^&#]*/g, '$1[redacted]');
}
