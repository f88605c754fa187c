package com.aliyun.fc.runtime;

import java.io.IOException;

/** Runs before the instance stops (FC's preStop hook). */
public interface PreStopHandler {
    void preStop(Context context) throws IOException;
}
