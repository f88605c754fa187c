package com.aliyun.fc.runtime;

import java.io.IOException;

/** Runs once per instance before its first invocation. */
public interface FunctionInitializer {
    void initialize(Context context) throws IOException;
}
