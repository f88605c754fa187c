package com.aliyun.fc.runtime;

/** What a Java function knows about its invocation (fc-local's implementation of FC's API). */
public interface Context {
    String getRequestId();

    Credentials getExecutionCredentials();

    FunctionParam getFunctionParam();

    FunctionComputeLogger getLogger();
}
