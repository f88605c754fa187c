package com.aliyun.fc.runtime;

/** Lines in FC's format: {@code <time> <requestId> [LEVEL] message}. */
public interface FunctionComputeLogger {
    void trace(String string);

    void debug(String string);

    void info(String string);

    void warn(String string);

    void error(String string);

    enum Level {
        TRACE, DEBUG, INFO, WARN, ERROR, FATAL
    }
}
