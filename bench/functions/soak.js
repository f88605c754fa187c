'use strict';
// bench/soak.js: `ok` answers at once; `fail` always fails (so it runs to its retry limit).
// Each run prints `SOAK <requestId> <event>`, so the soak counts runs from the logs.
exports.handler = function (event, context, callback) {
  const e = String(event);
  console.log('SOAK ' + context.requestId + ' ' + e);
  if (e === 'fail') return callback(new Error('failing on purpose'));
  callback(null, 'ok');
};
