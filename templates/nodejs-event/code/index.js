'use strict';
// An event function: the event arrives as a Buffer; the callback's value is the result.
exports.handler = (event, context, callback) => {
  const input = event.length ? JSON.parse(event.toString()) : {};
  console.log(`request ${context.requestId}`);
  callback(null, { message: `hello ${input.name || 'world'}` });
};
