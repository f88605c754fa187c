'use strict';
// A timer function: the event is {triggerTime, triggerName, payload}.
exports.handler = (event, context, callback) => {
  const e = JSON.parse(event.toString());
  callback(null, `timer ${e.triggerName} fired with payload ${e.payload}`);
};
