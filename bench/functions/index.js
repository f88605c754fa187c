'use strict';
// The functions the benchmarks call: the same fixed body as bench/bare-server.js.
var BODY = 'hello, fc-local';

exports.event = function (event, context, callback) {
  callback(null, BODY);
};

exports.http = function (request, response) {
  response.setHeader('content-type', 'text/plain');
  response.send(BODY);
};
