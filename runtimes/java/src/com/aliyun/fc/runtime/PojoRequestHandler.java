package com.aliyun.fc.runtime;

/** The event arrives as a POJO read from JSON; the returned POJO goes back as JSON. */
public interface PojoRequestHandler<I, O> {
    O handleRequest(I input, Context context);
}
