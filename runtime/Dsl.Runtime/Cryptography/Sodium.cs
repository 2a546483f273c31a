using System;
using System.Runtime.InteropServices;
using Dsl.Runtime.Cryptography.Interop;

namespace Dsl.Runtime.Cryptography;

/// <summary>
/// The one gate to libsodium: loads and initialises it once, and turns a missing library into an error
/// that says what to install.
/// </summary>
public static class Sodium
{
    private static readonly Lazy<string> s_version = new(Initialize);

    /// <summary>The version of the libsodium that was loaded, such as "1.0.18".</summary>
    public static string Version => s_version.Value;

    /// <summary>Loads and initialises libsodium if that has not happened yet.</summary>
    /// <exception cref="PlatformNotSupportedException">libsodium is not installed.</exception>
    public static void EnsureInitialized() => _ = s_version.Value;

    private static string Initialize()
    {
        Libsodium.RegisterResolver();
        try
        {
            if (SodiumCore.sodium_init() < 0)
                throw new InvalidOperationException("libsodium failed to initialise (sodium_init returned -1).");
            return Marshal.PtrToStringAnsi(SodiumCore.sodium_version_string()) ?? "unknown";
        }
        catch (DllNotFoundException ex)
        {
            throw MissingLibrary(ex);
        }
    }

    /// <summary>The error a machine without libsodium gets: what to install, and what was looked for.</summary>
    internal static PlatformNotSupportedException MissingLibrary(Exception cause) => new(
        "libsodium was not found. Install it: on Debian or Ubuntu 'apt-get install libsodium23', " +
        "on Fedora 'dnf install libsodium', on macOS 'brew install libsodium'. " +
        "The runtime looks for libsodium.so.23, then libsodium.so, libsodium.dylib and libsodium.dll.", cause);
}

/// <summary>Memory from <c>sodium_malloc</c>: guarded, locked out of swap, and wiped when freed.</summary>
internal sealed class SecureMemoryHandle : SafeHandle
{
    private SecureMemoryHandle() : base(IntPtr.Zero, ownsHandle: true) { }

    public int Length { get; private set; }

    public override bool IsInvalid => handle == IntPtr.Zero;

    public static SecureMemoryHandle Allocate(int length)
    {
        Sodium.EnsureInitialized();
        var memory = new SecureMemoryHandle();
        var pointer = SodiumCore.sodium_malloc((nuint)length);
        if (pointer == IntPtr.Zero) throw new OutOfMemoryException("sodium_malloc failed.");
        memory.SetHandle(pointer);
        memory.Length = length;
        return memory;
    }

    public unsafe Span<byte> DangerousSpan() => new((void*)handle, Length);

    /// <summary>Keeps the memory alive while the lease is used: <c>using var secret = key.Secret.Lease();</c>.</summary>
    /// <exception cref="ObjectDisposedException">The memory was already freed.</exception>
    public LeaseScope Lease() => new(this);

    /// <summary>A reference held on the memory for a scope; disposing releases it.</summary>
    internal ref struct LeaseScope
    {
        private readonly SecureMemoryHandle _memory;
        private bool _added;

        public LeaseScope(SecureMemoryHandle memory)
        {
            _memory = memory;
            _added = false;
            memory.DangerousAddRef(ref _added);
        }

        public readonly Span<byte> Span => _memory.DangerousSpan();

        public void Dispose()
        {
            if (_added) _memory.DangerousRelease();
            _added = false;
        }
    }

    protected override bool ReleaseHandle()
    {
        SodiumCore.sodium_free(handle);
        return true;
    }
}
