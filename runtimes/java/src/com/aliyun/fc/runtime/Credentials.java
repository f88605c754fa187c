package com.aliyun.fc.runtime;

/** The temporary keys of the service role. */
public interface Credentials {
    String getAccessKeyId();

    String getAccessKeySecret();

    String getSecurityToken();
}
