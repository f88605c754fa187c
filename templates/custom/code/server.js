'use strict';
// A custom runtime: any server speaking HTTP. FC sends event invocations as POST /invoke and
// HTTP-trigger requests as they came; it listens on FC_SERVER_PORT (FC's caPort, 9000).
require('http')
  .createServer((req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(`hello from a custom runtime: ${req.method} ${req.url}`);
  })
  .listen(Number(process.env.FC_SERVER_PORT || 9000), '0.0.0.0');
