package fclocal;

import com.aliyun.fc.runtime.Context;
import com.aliyun.fc.runtime.Credentials;
import com.aliyun.fc.runtime.FunctionComputeLogger;
import com.aliyun.fc.runtime.FunctionInitializer;
import com.aliyun.fc.runtime.PreFreezeHandler;
import com.aliyun.fc.runtime.PreStopHandler;
import com.aliyun.fc.runtime.FunctionParam;
import com.aliyun.fc.runtime.PojoRequestHandler;
import com.aliyun.fc.runtime.StreamRequestHandler;
import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.net.InetSocketAddress;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;

/**
 * fc-local's Java agent: FC's Java programming model (StreamRequestHandler, PojoRequestHandler,
 * FunctionInitializer) behind FC's custom-runtime HTTP protocol.
 */
public final class Agent {
    private static final Gson GSON = new Gson();
    private static final PrintStream OUT = System.out;
    private static final Map<String, Object> HANDLERS = new ConcurrentHashMap<>();
    private static ClassLoader userLoader;

    private Agent() {
    }

    public static void main(String[] args) throws IOException {
        String host = env("FC_SERVER_HOST", "127.0.0.1");
        int port = Integer.parseInt(env("FC_SERVER_PORT", "9000"));
        // A jar codeUri arrives as FC_LOCAL_CODE_FILE inside the code dir.
        userLoader = userClassLoader(new File(env("FC_LOCAL_CODE_FILE", env("FC_FUNC_CODE_PATH", "."))));
        HttpServer server = HttpServer.create(new InetSocketAddress(host, port), 64);
        server.setExecutor(Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r);
            t.setDaemon(true);
            return t;
        }));
        server.createContext("/", Agent::handle);
        server.start();
    }

    // Java 8 has neither InputStream.transferTo nor readAllBytes: the agent runs on java8 too.
    private static void copy(InputStream in, OutputStream out) throws IOException {
        byte[] buf = new byte[8192];
        for (int n; (n = in.read(buf)) > 0;) {
            out.write(buf, 0, n);
        }
    }

    private static String env(String key, String fallback) {
        String v = System.getenv(key);
        return v == null || v.isEmpty() ? fallback : v;
    }

    /** The code: a jar (its lib/*.jar entries too) or a folder of classes with *.jar and lib/*.jar. */
    static ClassLoader userClassLoader(File code) throws IOException {
        List<URL> urls = new ArrayList<>();
        if (code.isFile()) {
            urls.add(code.toURI().toURL());
            try (JarFile jar = new JarFile(code)) {
                File tmp = Files.createTempDirectory("fc-local-lib").toFile();
                for (Enumeration<JarEntry> e = jar.entries(); e.hasMoreElements();) {
                    JarEntry entry = e.nextElement();
                    if (entry.getName().startsWith("lib/") && entry.getName().endsWith(".jar")) {
                        File out = new File(tmp, new File(entry.getName()).getName());
                        try (InputStream in = jar.getInputStream(entry); OutputStream o = new FileOutputStream(out)) {
                            copy(in, o);
                        }
                        urls.add(out.toURI().toURL());
                    }
                }
            }
        } else {
            urls.add(code.toURI().toURL());
            for (File dir : new File[] {code, new File(code, "lib")}) {
                File[] jars = dir.listFiles((d, name) -> name.endsWith(".jar"));
                if (jars != null) {
                    for (File j : jars) {
                        urls.add(j.toURI().toURL());
                    }
                }
            }
        }
        // Parent first: the com.aliyun.fc.runtime types come from here even when the user's jar
        // carries its own copy of fc-java-core.
        return new URLClassLoader(urls.toArray(new URL[0]), Agent.class.getClassLoader());
    }

    // ------------------------------------------------------------------------------------------
    // Protocol

    private static void handle(HttpExchange ex) throws IOException {
        try {
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            copy(ex.getRequestBody(), buf);
            byte[] body = buf.toByteArray();
            String path = ex.getRequestURI().getPath();
            if ("POST".equals(ex.getRequestMethod()) && "/invoke".equals(path)) {
                invoke(ex, body);
            } else if ("POST".equals(ex.getRequestMethod()) && "/initialize".equals(path)) {
                initialize(ex);
            } else if ("GET".equals(ex.getRequestMethod()) && ("/pre-stop".equals(path) || "/pre-freeze".equals(path))) {
                lifecycleHook(ex, "/pre-stop".equals(path));
            } else {
                reply(ex, 404, null, "fc-local java agent: unknown route\n".getBytes(StandardCharsets.UTF_8));
            }
        } finally {
            ex.close();
        }
    }

    private static void reply(HttpExchange ex, int status, String errorType, byte[] body) throws IOException {
        ex.getResponseHeaders().set("x-fc-status", status == 200 ? "200" : "404");
        if (errorType != null) {
            ex.getResponseHeaders().set("x-fc-error-type", errorType);
            ex.getResponseHeaders().set("Content-Type", "application/json");
        }
        ex.sendResponseHeaders(status == 200 ? 200 : 404, body.length == 0 ? -1 : body.length);
        if (body.length > 0) {
            ex.getResponseBody().write(body);
        }
    }

    private static void invoke(HttpExchange ex, byte[] event) throws IOException {
        LocalContext ctx = new LocalContext(ex);
        marker("FC Invoke Start RequestId: " + ctx.getRequestId());
        byte[] result;
        String errorType = null;
        try {
            result = run(ctx, event);
        } catch (Throwable t) {
            Throwable cause = t instanceof java.lang.reflect.InvocationTargetException && t.getCause() != null ? t.getCause() : t;
            ctx.getLogger().error(cause.toString());
            result = GSON.toJson(errorJson(cause)).getBytes(StandardCharsets.UTF_8);
            errorType = "UnhandledInvocationError";
        }
        marker("FC Invoke End RequestId: " + ctx.getRequestId());
        reply(ex, errorType == null ? 200 : 404, errorType, result);
    }

    private static void initialize(HttpExchange ex) throws IOException {
        LocalContext ctx = new LocalContext(ex);
        String initializer = ctx.header("x-fc-function-initializer");
        if (initializer.isEmpty()) {
            reply(ex, 200, null, new byte[0]);
            return;
        }
        marker("FC Initialize Start RequestId: " + ctx.getRequestId());
        byte[] result = new byte[0];
        String errorType = null;
        try {
            Object target = handlerObject(initializer);
            if (!(target instanceof FunctionInitializer)) {
                throw new IllegalArgumentException("Class " + target.getClass().getName() + " does not implement com.aliyun.fc.runtime.FunctionInitializer");
            }
            ((FunctionInitializer) target).initialize(ctx);
        } catch (Throwable t) {
            result = GSON.toJson(errorJson(t)).getBytes(StandardCharsets.UTF_8);
            errorType = "UnhandledInvocationError";
        }
        marker("FC Initialize End RequestId: " + ctx.getRequestId());
        reply(ex, errorType == null ? 200 : 404, errorType, result);
    }

    /** preStop (PreStopHandler) or preFreeze (PreFreezeHandler), named by fc-local's x-fc-lifecycle-handler. */
    private static void lifecycleHook(HttpExchange ex, boolean stop) throws IOException {
        LocalContext ctx = new LocalContext(ex);
        String what = stop ? "PreStop" : "PreFreeze";
        marker("FC " + what + " Start RequestId: " + ctx.getRequestId());
        byte[] result = new byte[0];
        String errorType = null;
        try {
            Object target = handlerObject(ctx.header("x-fc-lifecycle-handler"));
            if (stop && target instanceof PreStopHandler) {
                ((PreStopHandler) target).preStop(ctx);
            } else if (!stop && target instanceof PreFreezeHandler) {
                ((PreFreezeHandler) target).preFreeze(ctx);
            } else {
                throw new IllegalArgumentException("Class " + target.getClass().getName() + " does not implement com.aliyun.fc.runtime." + (stop ? "PreStopHandler" : "PreFreezeHandler"));
            }
        } catch (Throwable t) {
            ctx.getLogger().error(t.toString());
            result = GSON.toJson(errorJson(t)).getBytes(StandardCharsets.UTF_8);
            errorType = "UnhandledInvocationError";
        }
        marker("FC " + what + " End RequestId: " + ctx.getRequestId());
        reply(ex, errorType == null ? 200 : 404, errorType, result);
    }

    // ------------------------------------------------------------------------------------------
    // Handlers: {package}.{class}::{method}, one object per class and instance.

    private static Object handlerObject(String handler) throws ReflectiveOperationException {
        int sep = handler.indexOf("::");
        if (sep <= 0) {
            throw new IllegalArgumentException("Invalid handler '" + handler + "': it must be {package}.{class}::{method}");
        }
        String className = handler.substring(0, sep);
        Object existing = HANDLERS.get(className);
        if (existing != null) {
            return existing;
        }
        Class<?> cls;
        try {
            cls = Class.forName(className, true, userLoader);
        } catch (ClassNotFoundException e) {
            throw new ClassNotFoundException("Class '" + className + "' is missing from the code", e);
        }
        Object created = cls.getDeclaredConstructor().newInstance();
        HANDLERS.put(className, created);
        return created;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static byte[] run(LocalContext ctx, byte[] event) throws Exception {
        String handler = ctx.getFunctionParam().getFunctionHandler();
        Object target = handlerObject(handler);
        String method = handler.substring(handler.indexOf("::") + 2);
        if (!"handleRequest".equals(method)) {
            throw new NoSuchMethodException("Handler method '" + method + "' is not supported: FC calls handleRequest");
        }
        if (target instanceof StreamRequestHandler) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ((StreamRequestHandler) target).handleRequest(new ByteArrayInputStream(event), out, ctx);
            return out.toByteArray();
        }
        if (target instanceof PojoRequestHandler) {
            Type input = pojoInputType(target.getClass());
            Object in = GSON.fromJson(new String(event, StandardCharsets.UTF_8), input);
            Object out = ((PojoRequestHandler) target).handleRequest(in, ctx);
            return GSON.toJson(out).getBytes(StandardCharsets.UTF_8);
        }
        throw new IllegalArgumentException("Class " + target.getClass().getName()
            + " implements neither com.aliyun.fc.runtime.StreamRequestHandler nor PojoRequestHandler");
    }

    /** The I of PojoRequestHandler<I, O>, looked up the class hierarchy. */
    private static Type pojoInputType(Class<?> cls) {
        for (Class<?> c = cls; c != null; c = c.getSuperclass()) {
            for (Type t : c.getGenericInterfaces()) {
                if (t instanceof ParameterizedType && ((ParameterizedType) t).getRawType() == PojoRequestHandler.class) {
                    return ((ParameterizedType) t).getActualTypeArguments()[0];
                }
            }
        }
        return Object.class;
    }

    /** FC's Java error: errorMessage, errorType (class name), errorCause, the user's frames. */
    static JsonObject errorJson(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        JsonObject o = new JsonObject();
        o.addProperty("errorMessage", String.valueOf(t.getMessage()));
        o.addProperty("errorType", t.getClass().getName());
        o.addProperty("errorCause", String.valueOf(root.getMessage()));
        JsonArray frames = new JsonArray();
        for (StackTraceElement e : t.getStackTrace()) {
            String c = e.getClassName();
            if (c.startsWith("fclocal.") || c.startsWith("jdk.internal.") || c.startsWith("java.lang.reflect.") || c.startsWith("com.sun.net.httpserver")) {
                break;
            }
            frames.add(e.toString());
        }
        o.add("stackTrace", frames);
        return o;
    }

    // ------------------------------------------------------------------------------------------
    // Logging

    private static synchronized void marker(String line) {
        OUT.println(line);
        OUT.flush();
    }

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

    static final class Logger implements FunctionComputeLogger {
        private final String requestId;

        Logger(String requestId) {
            this.requestId = requestId;
        }

        private void log(String level, String message) {
            marker(TIME.format(Instant.now()) + " " + requestId + " [" + level + "] " + message);
        }

        @Override public void trace(String s) {
            log("TRACE", s);
        }

        @Override public void debug(String s) {
            log("DEBUG", s);
        }

        @Override public void info(String s) {
            log("INFO", s);
        }

        @Override public void warn(String s) {
            log("WARN", s);
        }

        @Override public void error(String s) {
            log("ERROR", s);
        }
    }

    // ------------------------------------------------------------------------------------------
    // Context from the protocol's x-fc-* headers

    static final class LocalContext implements Context, Credentials, FunctionParam {
        private final HttpExchange ex;
        private final Logger logger;

        LocalContext(HttpExchange ex) {
            this.ex = ex;
            this.logger = new Logger(getRequestId());
        }

        String header(String name) {
            String v = ex.getRequestHeaders().getFirst(name);
            return v == null ? "" : v;
        }

        private int number(String name) {
            try {
                return Integer.parseInt(header(name));
            } catch (NumberFormatException e) {
                return 0;
            }
        }

        @Override public String getRequestId() {
            return header("x-fc-request-id");
        }

        @Override public Credentials getExecutionCredentials() {
            return this;
        }

        @Override public FunctionParam getFunctionParam() {
            return this;
        }

        @Override public FunctionComputeLogger getLogger() {
            return logger;
        }

        @Override public String getAccessKeyId() {
            return header("x-fc-access-key-id");
        }

        @Override public String getAccessKeySecret() {
            return header("x-fc-access-key-secret");
        }

        @Override public String getSecurityToken() {
            return header("x-fc-security-token");
        }

        @Override public String getFunctionName() {
            return header("x-fc-function-name");
        }

        @Override public String getFunctionHandler() {
            return header("x-fc-function-handler");
        }

        @Override public int getExecTimeLimitInMillis() {
            return number("x-fc-function-timeout") * 1000;
        }

        @Override public int getMemoryLimitInMB() {
            return number("x-fc-function-memory");
        }
    }
}
