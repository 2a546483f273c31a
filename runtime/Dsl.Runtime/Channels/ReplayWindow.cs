namespace Dsl.Runtime.Channels;

/// <summary>
/// The sliding window of sequence numbers a datagram channel has accepted (RFC 4303 §3.4.3), kept as
/// a ring of bits in the manner of RFC 6479: a bit per sequence number, cleared a 64-bit word at a time
/// as the window moves, so no shifting.
/// </summary>
/// <remarks>
/// Look with <see cref="Check"/> before authenticating a frame and move with <see cref="Accept"/> only
/// after, so that a forged frame never moves the window.
/// </remarks>
internal sealed class ReplayWindow
{
    private readonly ulong[] _ring;
    private readonly int _size;
    private ulong _highest;
    private bool _any;

    /// <summary>A window that accepts a frame at most <paramref name="size"/> − 1 sequence numbers behind the highest accepted.</summary>
    public ReplayWindow(int size)
    {
        _size = size;
        // One word more than the window needs, so that the word being cleared for new numbers never
        // holds a number still inside the window.
        _ring = new ulong[(size + 63) / 64 + 1];
    }

    /// <summary>Whether <paramref name="sequence"/> may be accepted: not behind the window and not seen.</summary>
    public bool Check(ulong sequence, out SecureChannelError error)
    {
        error = default;
        if (!_any || sequence > _highest) return true;
        if (_highest - sequence >= (ulong)_size)
        {
            error = SecureChannelError.TooOld;
            return false;
        }
        if ((_ring[Word(sequence)] & Bit(sequence)) != 0)
        {
            error = SecureChannelError.Replayed;
            return false;
        }
        return true;
    }

    /// <summary>Records <paramref name="sequence"/>, which <see cref="Check"/> allowed and which has been authenticated.</summary>
    public void Accept(ulong sequence)
    {
        if (!_any)
        {
            _highest = sequence;
            _any = true;
        }
        else if (sequence > _highest)
        {
            // Clear the words of the blocks of 64 numbers the window moves onto; every word if it jumps a whole ring.
            var from = _highest >> 6;
            var steps = System.Math.Min((sequence >> 6) - from, (ulong)_ring.Length);
            for (ulong i = 1; i <= steps; i++) _ring[(int)((from + i) % (ulong)_ring.Length)] = 0;
            _highest = sequence;
        }
        _ring[Word(sequence)] |= Bit(sequence);
    }

    private int Word(ulong sequence) => (int)((sequence >> 6) % (ulong)_ring.Length);

    private static ulong Bit(ulong sequence) => 1UL << (int)(sequence & 63);
}
