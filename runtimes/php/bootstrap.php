<?php
// fc-local's PHP agent: FC's PHP programming model behind FC's custom-runtime HTTP protocol
// (POST /initialize, POST /invoke, GET /pre-stop, GET /pre-freeze; HTTP functions get the raw
// request). Event handlers are handler($event, $context) with $context an array as FC documents
// it; HTTP handlers are handler($request, $context) with a PSR-7 ServerRequest (attributes path,
// requestURI, clientIP) returning a PSR-7 Response. FC's runtime ships RingCentral\Psr7; here it
// is Debian's guzzlehttp/psr7, the same PSR-7 interface, under RingCentral\Psr7's names too.
// One request at a time, in one long-lived process: globals and static state survive between
// invocations, as in FC.

error_reporting(E_ALL);
ini_set('display_errors', 'stderr');

$CODE_DIR = getenv('FC_FUNC_CODE_PATH') ?: getcwd();
$PORT = (int) (getenv('FC_SERVER_PORT') ?: 9000);
$HOST = getenv('FC_SERVER_HOST') ?: '127.0.0.1';
const PROXY_PREFIX = '#^/2016-08-15/proxy/[^/]+/[^/]+#';
$CURRENT_REQUEST_ID = '';

set_include_path($CODE_DIR . PATH_SEPARATOR . get_include_path());
// The function's own Composer packages win; then Debian's PSR-7 implementation.
if (is_file($CODE_DIR . '/vendor/autoload.php')) require_once $CODE_DIR . '/vendor/autoload.php';
foreach (['/usr/share/php/GuzzleHttp/Psr7/autoload.php'] as $autoload) {
    if (is_file($autoload)) require_once $autoload;
}
foreach (['Response', 'ServerRequest', 'Request', 'Uri', 'Stream', 'Utils'] as $class) {
    if (!class_exists("RingCentral\\Psr7\\$class", true) && class_exists("GuzzleHttp\\Psr7\\$class", true)) {
        class_alias("GuzzleHttp\\Psr7\\$class", "RingCentral\\Psr7\\$class");
    }
}

/** FC's log lines: `<time> <requestId> [LEVEL] message`. */
class FcLogger
{
    private function line($level, $message)
    {
        global $CURRENT_REQUEST_ID;
        $now = microtime(true);
        $stamp = gmdate('Y-m-d\TH:i:s', (int) $now) . sprintf('.%03dZ', (int) (($now - floor($now)) * 1000));
        fwrite(STDOUT, "$stamp $CURRENT_REQUEST_ID [$level] $message\n");
    }
    public function debug($m) { $this->line('DEBUG', $m); }
    public function info($m) { $this->line('INFO', $m); }
    public function notice($m) { $this->line('NOTICE', $m); }
    public function warning($m) { $this->line('WARNING', $m); }
    public function error($m) { $this->line('ERROR', $m); }
    public function critical($m) { $this->line('CRITICAL', $m); }
    public function alert($m) { $this->line('ALERT', $m); }
    public function emergency($m) { $this->line('EMERGENCY', $m); }
}
$GLOBALS['fcLogger'] = new FcLogger();

function fc_marker($line)
{
    fwrite(STDOUT, $line . "\n");
}

function fc_context(array $h)
{
    return [
        'requestId' => $h['x-fc-request-id'] ?? '',
        'credentials' => [
            'accessKeyId' => $h['x-fc-access-key-id'] ?? '',
            'accessKeySecret' => $h['x-fc-access-key-secret'] ?? '',
            'securityToken' => $h['x-fc-security-token'] ?? '',
        ],
        'function' => [
            'name' => $h['x-fc-function-name'] ?? '',
            'handler' => $h['x-fc-function-handler'] ?? '',
            'memory' => (int) ($h['x-fc-function-memory'] ?? 0),
            'timeout' => (int) ($h['x-fc-function-timeout'] ?? 0),
            'initializer' => $h['x-fc-function-initializer'] ?? '',
            'initializationTimeout' => (int) ($h['x-fc-initialization-timeout'] ?? 0),
        ],
        'service' => [
            'name' => $h['x-fc-service-name'] ?? '',
            'logProject' => $h['x-fc-service-logproject'] ?? '',
            'logStore' => $h['x-fc-service-logstore'] ?? '',
            'qualifier' => $h['x-fc-qualifier'] ?? 'LATEST',
            'versionId' => '',
        ],
        'region' => $h['x-fc-region'] ?? '',
        'accountId' => $h['x-fc-account-id'] ?? '',
    ];
}

class FcLoadError extends Exception
{
}

/** `file.function`: the file loaded once (required from the code dir), the function looked up. */
function fc_handler($handler)
{
    global $CODE_DIR;
    $dot = strrpos($handler, '.');
    if ($dot === false || $dot === 0) throw new FcLoadError("Invalid handler '$handler': it must be {file}.{function}");
    $file = $CODE_DIR . '/' . substr($handler, 0, $dot) . '.php';
    $name = substr($handler, $dot + 1);
    if (!is_file($file)) throw new FcLoadError("Module '" . substr($handler, 0, $dot) . "' is missing: no " . basename($file) . ' in the code');
    require_once $file;
    if (!function_exists($name)) throw new FcLoadError("Handler '$name' is missing on module '" . substr($handler, 0, $dot) . "'");
    return $name;
}

/** FC's error JSON for PHP: errorMessage, errorType and stackTrace {file, line, traceString}. */
function fc_error(Throwable $e)
{
    return ['errorMessage' => $e->getMessage(), 'errorType' => get_class($e), 'stackTrace' => ['file' => $e->getFile(), 'line' => $e->getLine(), 'traceString' => $e->getTraceAsString()]];
}

function fc_encode($value)
{
    if ($value === null) return '';
    if (is_string($value)) return $value;
    if (is_bool($value)) return $value ? 'true' : 'false';
    if (is_scalar($value)) return (string) $value;
    return json_encode($value);
}

// Raised PHP errors (warnings aside) become exceptions, so that they answer as errors.
set_error_handler(function ($severity, $message, $file, $line) {
    if (!(error_reporting() & $severity) || in_array($severity, [E_WARNING, E_NOTICE, E_USER_WARNING, E_USER_NOTICE, E_DEPRECATED, E_USER_DEPRECATED], true)) return false;
    throw new ErrorException($message, 0, $severity, $file, $line);
});

// ---------------------------------------------------------------------------------------------
// A small HTTP/1.1 server: one connection at a time, closed after its answer.

function fc_read_request($conn)
{
    $head = '';
    while (strpos($head, "\r\n\r\n") === false) {
        $chunk = fread($conn, 8192);
        if ($chunk === false || $chunk === '') return null;
        $head .= $chunk;
    }
    [$headText, $rest] = explode("\r\n\r\n", $head, 2);
    $lines = explode("\r\n", $headText);
    [$method, $target] = explode(' ', array_shift($lines), 3) + [1 => '/'];
    $headers = [];
    foreach ($lines as $l) {
        $colon = strpos($l, ':');
        if ($colon === false) continue;
        $k = strtolower(trim(substr($l, 0, $colon)));
        $v = trim(substr($l, $colon + 1));
        $headers[$k] = isset($headers[$k]) ? $headers[$k] . ', ' . $v : $v;
    }
    // The receipt fc-local waits for: the request reached the agent.
    if (strtolower($headers['expect'] ?? '') === '100-continue') fwrite($conn, "HTTP/1.1 100 Continue\r\n\r\n");
    $length = (int) ($headers['content-length'] ?? 0);
    $body = $rest;
    while (strlen($body) < $length) {
        $chunk = fread($conn, min(65536, $length - strlen($body)));
        if ($chunk === false || $chunk === '') break;
        $body .= $chunk;
    }
    return [$method, $target, $headers, $body];
}

function fc_write($conn, $status, array $headers, $body)
{
    $reasons = [200 => 'OK', 404 => 'Not Found'];
    $out = "HTTP/1.1 $status " . ($reasons[$status] ?? 'Status') . "\r\n";
    foreach ($headers as $k => $values) {
        foreach ((array) $values as $v) $out .= "$k: $v\r\n";
    }
    $out .= 'Content-Length: ' . strlen($body) . "\r\nConnection: close\r\n\r\n";
    fwrite($conn, $out . $body);
}

function fc_answer($conn, $errorType, $payload)
{
    if ($errorType !== null) {
        fc_write($conn, 404, ['x-fc-status' => '404', 'x-fc-error-type' => $errorType, 'Content-Type' => 'application/json'], json_encode($payload));
    } else {
        fc_write($conn, 200, ['x-fc-status' => '200', 'Content-Type' => 'application/octet-stream'], $payload);
    }
}

/** Runs `$call` between FC's markers; answers its result or its error. */
function fc_run($conn, $what, array $ctx, callable $call)
{
    global $CURRENT_REQUEST_ID;
    $CURRENT_REQUEST_ID = $ctx['requestId'];
    fc_marker("FC $what Start RequestId: {$ctx['requestId']}");
    $errorType = null;
    try {
        $payload = $call();
    } catch (FcLoadError $e) {
        $errorType = 'UnhandledInvocationError';
        $payload = ['errorMessage' => $e->getMessage(), 'errorType' => 'ModuleNotFound'];
    } catch (Throwable $e) {
        $GLOBALS['fcLogger']->error(get_class($e) . ': ' . $e->getMessage());
        $errorType = 'UnhandledInvocationError';
        $payload = fc_error($e);
    }
    fc_marker("FC $what End RequestId: {$ctx['requestId']}");
    return [$errorType, $payload];
}

function fc_http($conn, $method, $target, array $headers, $body, array $ctx)
{
    [$errorType, $result] = fc_run($conn, 'Invoke', $ctx, function () use ($method, $target, $headers, $body, $ctx) {
        $fn = fc_handler($ctx['function']['handler']);
        $path = parse_url($target, PHP_URL_PATH) ?: '/';
        if (preg_match(PROXY_PREFIX, $path, $m)) $path = substr($path, strlen($m[0])) ?: '/';
        $query = (string) parse_url($target, PHP_URL_QUERY);
        parse_str($query, $params);
        $clientHeaders = array_filter($headers, function ($k) { return strpos($k, 'x-fc-') !== 0; }, ARRAY_FILTER_USE_KEY);
        $request = (new GuzzleHttp\Psr7\ServerRequest($method, $target, $clientHeaders, $body))
            ->withQueryParams($params)
            ->withAttribute('path', $path)
            ->withAttribute('requestURI', $path . ($query !== '' ? "?$query" : ''))
            ->withAttribute('clientIP', $headers['x-fc-client-ip'] ?? '');
        $response = $fn($request, $ctx);
        if (!($response instanceof Psr\Http\Message\ResponseInterface)) {
            throw new UnexpectedValueException('An HTTP handler returns a PSR-7 Response (use RingCentral\Psr7\Response)');
        }
        return $response;
    });
    if ($errorType !== null) return fc_answer($conn, $errorType, $result);
    $out = [];
    foreach ($result->getHeaders() as $k => $values) {
        if (strpos(strtolower($k), 'x-fc-') === 0 || in_array(strtolower($k), ['content-length', 'connection', 'transfer-encoding'], true)) continue;
        $out[$k] = $values;
    }
    fc_write($conn, $result->getStatusCode(), $out, $method === 'HEAD' ? '' : (string) $result->getBody());
}

function fc_serve($conn)
{
    $req = fc_read_request($conn);
    if ($req === null) return;
    [$method, $target, $headers, $body] = $req;
    $ctx = fc_context($headers);
    $path = parse_url($target, PHP_URL_PATH);
    if (!empty($headers['x-fc-local-http-invoke']) || preg_match(PROXY_PREFIX, (string) $path)) {
        return fc_http($conn, $method, $target, $headers, $body, $ctx);
    }
    if ($method === 'POST' && $path === '/invoke') {
        [$t, $p] = fc_run($conn, 'Invoke', $ctx, function () use ($ctx, $body) {
            return fc_encode(call_user_func(fc_handler($ctx['function']['handler']), $body, $ctx));
        });
        return fc_answer($conn, $t, $p);
    }
    if ($method === 'POST' && $path === '/initialize') {
        if ($ctx['function']['initializer'] === '') return fc_answer($conn, null, '');
        [$t, $p] = fc_run($conn, 'Initialize', $ctx, function () use ($ctx) {
            call_user_func(fc_handler($ctx['function']['initializer']), $ctx);
            return '';
        });
        return fc_answer($conn, $t, $p);
    }
    if ($method === 'GET' && ($path === '/pre-stop' || $path === '/pre-freeze')) {
        [$t, $p] = fc_run($conn, $path === '/pre-stop' ? 'PreStop' : 'PreFreeze', $ctx, function () use ($ctx, $headers) {
            call_user_func(fc_handler($headers['x-fc-lifecycle-handler'] ?? ''), $ctx);
            return '';
        });
        return fc_answer($conn, $t, $p);
    }
    fc_write($conn, 404, ['Content-Type' => 'text/plain', 'x-fc-local-agent-pid' => (string) getmypid()], "fc-local php agent: unknown route $method $path\n");
}

$server = @stream_socket_server("tcp://$HOST:$PORT", $errno, $errstr);
if ($server === false) {
    fwrite(STDERR, "fc-local php agent: cannot listen on $HOST:$PORT: $errstr\n");
    exit(1);
}
while (true) {
    $conn = @stream_socket_accept($server, -1);
    if ($conn === false) continue;
    try {
        fc_serve($conn);
    } catch (Throwable $e) {
        // Whatever a request causes here answers that request, never ends the instance.
        fc_answer($conn, 'UnhandledInvocationError', ['errorMessage' => 'fc-local php agent could not handle the request: ' . $e->getMessage(), 'errorType' => get_class($e)]);
    }
    fclose($conn);
}
