using System;
using System.Collections.Generic;
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

    /// <summary>Whether libsodium is installed: loads and initialises it if that has not happened yet, and says no where it is missing.</summary>
    internal static bool IsInstalled
    {
        get
        {
            try
            {
                EnsureInitialized();
                return true;
            }
            catch (PlatformNotSupportedException)
            {
                return false;
            }
        }
    }

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

/// <summary>
/// Memory from <c>sodium_malloc</c>: locked out of swap, wiped when freed, behind guard pages. A key of up to
/// <see cref="SecureSlots.SlotSize"/> bytes (every key and derived secret the runtime makes) takes a slot of a shared
/// <c>sodium_malloc</c> region instead of a region of its own: a region costs an <c>mmap</c>, <c>mprotect</c>s and,
/// when freed, an <c>munmap</c> whose TLB shootdown stops every core, several times the cost of the handshake's own
/// crypto; a slot costs a lock. The guard pages are then around the region, not around each key.
/// </summary>
internal sealed class SecureMemoryHandle : SafeHandle
{
    private SecureMemoryHandle() : base(IntPtr.Zero, ownsHandle: true) { }

    public int Length { get; private set; }

    private bool _slot;

    public override bool IsInvalid => handle == IntPtr.Zero;

    public static SecureMemoryHandle Allocate(int length)
    {
        Sodium.EnsureInitialized();
        var memory = new SecureMemoryHandle();
        var slot = length <= SecureSlots.SlotSize;
        var pointer = slot ? SecureSlots.Rent() : SodiumCore.sodium_malloc((nuint)length);
        if (pointer == IntPtr.Zero) throw new OutOfMemoryException("sodium_malloc failed.");
        memory.SetHandle(pointer);
        memory.Length = length;
        memory._slot = slot;
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
        if (_slot) SecureSlots.Return(handle);
        else SodiumCore.sodium_free(handle);
        return true;
    }
}

/// <summary>
/// Fixed-size slots carved out of <c>sodium_malloc</c> regions of 4 KiB, for keys: a freed slot is wiped, then kept for
/// the next key. Regions are never given back; there are as many as the most keys alive at once need (64 per region).
/// </summary>
internal static class SecureSlots
{
    /// <summary>The largest key a slot holds: an Ed25519 secret key (64 bytes), and every 32-byte key and secret.</summary>
    public const int SlotSize = 64;

    private const int SlotsPerRegion = 64;

    private static readonly object s_gate = new();
    private static readonly Stack<IntPtr> s_free = new();

    /// <summary>A wiped slot of <see cref="SlotSize"/> bytes, or zero when <c>sodium_malloc</c> fails.</summary>
    public static IntPtr Rent()
    {
        lock (s_gate)
        {
            if (s_free.Count == 0)
            {
                var region = SodiumCore.sodium_malloc(SlotSize * SlotsPerRegion);
                if (region == IntPtr.Zero) return IntPtr.Zero;
                // sodium_malloc fills new memory with 0xdb: wipe it, so that every slot starts as a returned one does.
                Wipe(region, SlotSize * SlotsPerRegion);
                for (var i = SlotsPerRegion - 1; i >= 0; i--) s_free.Push(region + i * SlotSize);
            }
            return s_free.Pop();
        }
    }

    /// <summary>Wipes the slot and keeps it for the next key.</summary>
    public static void Return(IntPtr slot)
    {
        Wipe(slot, SlotSize);
        lock (s_gate) s_free.Push(slot);
    }

    private static unsafe void Wipe(IntPtr memory, int length)
        => System.Security.Cryptography.CryptographicOperations.ZeroMemory(new Span<byte>((void*)memory, length));
}
