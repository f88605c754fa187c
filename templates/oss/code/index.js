'use strict';
// An OSS trigger: the event lists the objects created or removed.
exports.handler = (event, context, callback) => {
  const e = JSON.parse(event.toString()).events[0];
  callback(null, `${e.eventName} ${e.oss.object.key} in ${e.oss.bucket.name}`);
};
