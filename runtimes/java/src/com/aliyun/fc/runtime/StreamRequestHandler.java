package com.aliyun.fc.runtime;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/** The event arrives on the input stream; the result goes to the output stream. */
public interface StreamRequestHandler {
    void handleRequest(InputStream input, OutputStream output, Context context) throws IOException;
}
