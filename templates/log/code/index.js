'use strict';
// A Log Service trigger: the event says which logstore and which cursors hold new records.
exports.handler = (event, context, callback) => {
  const e = JSON.parse(event.toString());
  callback(null, `new records in ${e.source.logstoreName} from ${e.source.beginCursor} to ${e.source.endCursor}`);
};
