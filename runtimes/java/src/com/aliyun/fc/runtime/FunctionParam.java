package com.aliyun.fc.runtime;

/** The invoked function's settings. */
public interface FunctionParam {
    String getFunctionName();

    String getFunctionHandler();

    int getExecTimeLimitInMillis();

    int getMemoryLimitInMB();
}
