package com.aliyun.fc.runtime;

import java.io.IOException;

/** Runs after each invocation, before the instance is frozen (FC's preFreeze hook). */
public interface PreFreezeHandler {
    void preFreeze(Context context) throws IOException;
}
