'use strict';
// The thumbnail app: an upload under in/ fires this function, which reads the new object and
// writes its result under out/. ali-oss is built into FC's Node.js runtimes (and fc-local's): the
// client is built from the region and the credentials FC hands the function, as on FC; locally
// its requests reach fc-local's OSS. Replace `thumbnail` with real image code (e.g. gm, also built in).
const OSS = require('ali-oss');

const thumbnail = (bytes) => Buffer.concat([Buffer.from('thumbnail of '), bytes]);

exports.handler = async (event, context) => {
  const e = JSON.parse(event.toString()).events[0];
  const client = new OSS({
    region: `oss-${context.region}`,
    internal: true,
    accessKeyId: context.credentials.accessKeyId,
    accessKeySecret: context.credentials.accessKeySecret,
    stsToken: context.credentials.securityToken || undefined,
    bucket: e.oss.bucket.name,
  });
  const key = e.oss.object.key;
  const out = `out/${key.slice('in/'.length)}`;
  const { content } = await client.get(key);
  await client.put(out, thumbnail(content));
  console.log(`${key} -> ${out}`);
  return out;
};
