'use strict';
// FC 3.0: an HTTP trigger gives an event function the request as a JSON event and sends back
// {statusCode, headers, body}.
exports.handler = (event, context, callback) => {
  const req = JSON.parse(event.toString());
  callback(null, { statusCode: 200, headers: { 'content-type': 'text/plain' }, body: `hello from FC 3.0: ${req.rawPath}` });
};
