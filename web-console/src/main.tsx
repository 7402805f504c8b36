import { render } from 'preact';
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { App, NoToken, setTheme } from './app.js';
import { startClock } from './clock.js';
import { Connection, takeToken } from './connection.js';
import { ConsoleStore } from './store.js';
import { reviewLoader } from './views/review.js';

const root = document.getElementById('app')!;
let saved: string | null = null;
try {
  saved = localStorage.getItem('cueroom.theme');
} catch {
  // no storage: dark default
}
setTheme(saved === 'light' ? 'light' : 'dark');

const token = takeToken(location, sessionStorage, history);
if (!token) {
  render(<NoToken />, root);
} else {
  const store = new ConsoleStore();
  const base = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`;
  const connection = new Connection(store, token, base);
  startClock();
  connection.open();
  // For the end-to-end tests and for support: the console's state and a way to send a raw command.
  (window as unknown as { cueroom: unknown }).cueroom = { store, connection };
  render(<App console={{ store, connection, loadReview: reviewLoader(token) }} />, root);
}
