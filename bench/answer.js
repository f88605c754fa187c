// The answer every benchmark server gives: the same fixed body as bench/functions.
export const BODY = 'hello, fc-local';

export function answer(req, res) {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(BODY);
  });
}
