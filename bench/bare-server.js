// The baseline: a bare Node http server answering the same body as the benchmark functions.
import http from 'node:http';
import { answer } from './answer.js';

const server = http.createServer(answer);
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${server.address().port}`));
