package example;

import com.aliyun.fc.runtime.Context;
import com.aliyun.fc.runtime.StreamRequestHandler;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/** A Java event function: the event in, the answer out, as streams. */
public class App implements StreamRequestHandler {
    @Override
    public void handleRequest(InputStream input, OutputStream output, Context context) throws IOException {
        context.getLogger().info("request " + context.getRequestId());
        byte[] event = input.readAllBytes();
        output.write(("hello from Java: " + new String(event, StandardCharsets.UTF_8)).getBytes(StandardCharsets.UTF_8));
    }
}
