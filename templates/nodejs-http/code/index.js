'use strict';
// An HTTP function (FC 2.0): request, response, context.
exports.handler = (request, response, context) => {
  response.setHeader('content-type', 'text/plain');
  response.send(`hello from an HTTP function: ${request.method} ${request.path}`);
};
