package io.checkpointd.linux;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

/**
 * Raw libc: package-private; public wrappers check every result and throw {@link SyscallException}.
 * errno is read with {@link Native#getLastError()} right after the call (JNA saves it per thread).
 *
 * <p>{@code syscall} and {@code ioctl} are variadic in C; they are declared with fixed arity here, which is
 * sound on x86_64 (integer arguments go in the same registers; glibc's {@code syscall} ignores {@code %al}).
 */
interface LibC extends Library {
    LibC INSTANCE = Native.load("c", LibC.class);

    int close(int fd);

    /**
     * {@code long syscall(long number, ...)}: for calls glibc has no wrapper for (pidfd_open, pidfd_getfd,
     * pidfd_send_signal, userfaultfd). All five register arguments are always passed: glibc forwards them to the
     * kernel whether the call uses them or not, so an argument left out would be whatever the register held (garbage
     * {@code flags} make pidfd_send_signal fail with EINVAL).
     */
    long syscall(long number, long a1, long a2, long a3, long a4, long a5);

    int kill(int pid, int sig);

    /** {@code pid_t waitpid(pid_t pid, int *wstatus, int options)} */
    int waitpid(int pid, int[] wstatus, int options);

    /** {@code ssize_t process_vm_readv(pid_t, const struct iovec *local, unsigned long liovcnt, const struct iovec *remote, unsigned long riovcnt, unsigned long flags)} */
    long process_vm_readv(int pid, Pointer local, long liovcnt, Pointer remote, long riovcnt, long flags);

    /** {@code int ioctl(int fd, unsigned long request, ...)} with a pointer argument. */
    int ioctl(int fd, long request, Pointer arg);

    /** {@code int ioctl(int fd, unsigned long request, ...)} with an integer argument. */
    int ioctl(int fd, long request, long arg);

    /** {@code int prctl(int option, unsigned long arg2, arg3, arg4, arg5)} */
    int prctl(int option, long arg2, long arg3, long arg4, long arg5);

    /** {@code int open(const char *pathname, int flags)} */
    int open(String pathname, int flags);

    /** {@code int open(const char *pathname, int flags, mode_t mode)}: with {@code O_CREAT}. */
    int open(String pathname, int flags, int mode);

    int socket(int domain, int type, int protocol);

    /** {@code ssize_t write(int fd, const void *buf, size_t count)} */
    long write(int fd, byte[] buf, long count);

    /** {@code int connect(int sockfd, const struct sockaddr *addr, socklen_t addrlen)} */
    int connect(int fd, byte[] addr, int addrlen);

    /** {@code void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset)} */
    Pointer mmap(Pointer addr, long length, int prot, int flags, int fd, long offset);

    int munmap(Pointer addr, long length);

    /** {@code int madvise(void *addr, size_t length, int advice)} */
    int madvise(Pointer addr, long length, int advice);

    /** {@code int mprotect(void *addr, size_t len, int prot)} */
    int mprotect(Pointer addr, long length, int prot);

    /** {@code void *sbrk(intptr_t increment)}: glibc's, which keeps malloc's view of the break current. */
    Pointer sbrk(long increment);

    /** {@code off_t lseek(int fd, off_t offset, int whence)} */
    long lseek(int fd, long offset, int whence);

    int geteuid();

    /** {@code int sched_setscheduler(pid_t pid, int policy, const struct sched_param *param)}; pid 0: the calling thread. */
    int sched_setscheduler(int pid, int policy, int[] param);
}
