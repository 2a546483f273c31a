using System;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Protocols.Ltp;
using Dsl.Protocols.Mesh;
using Dsl.Protocols.Tests.Mesh;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Services;
using Xunit;

namespace Dsl.Protocols.Tests.Machines;

/// <summary>
/// Role machines are sans-IO at their core: driven step by step without a transport, a waiting machine holds only
/// what later steps read, its state exports and restores (refused when tampered with or foreign), and failures are
/// returned as steps, never thrown.
/// </summary>
public sealed class SansIoTests
{
    private static readonly byte[] Key = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();

    /// <summary>What crosses the wire: encoded by the sender's codec, decoded by the receiver's.</summary>
    private static TMessage Wire<TMessage>(IMessageCodec<TMessage> codec, TMessage message) where TMessage : class
    {
        using var buffer = new PooledBufferWriter();
        codec.Encode(message, buffer);
        Assert.True(codec.TryDecode(buffer.WrittenSpan, out var decoded, out var error), error.Detail);
        return decoded!;
    }

    [Fact]
    public async Task A_mesh_responder_restored_mid_handshake_in_a_fresh_object_completes_it()
    {
        using var a = new Node();
        using var b = new Node();
        var ct = CancellationToken.None;
        var initiator = a.Initiator();
        var responder = b.Responder();

        var syn = await initiator.StartAsync("10.0.0.2", ct);
        Assert.Equal(HandshakeStepKind.Send, syn.Kind);
        Assert.Equal(HandshakeStepKind.Receive, (await initiator.ContinueAsync(ct)).Kind);

        Assert.Equal(HandshakeStepKind.Receive, (await responder.StartAsync("10.0.0.1", ct)).Kind);
        var synAck = await responder.ReceiveAsync(Wire(MeshCodec.Instance, syn.Message!), ct);
        Assert.Equal(HandshakeStepKind.Send, synAck.Kind);
        Assert.Equal(HandshakeStepKind.Receive, (await responder.ContinueAsync(ct)).Kind);
        Assert.Equal(MeshResponderState.AwaitHsAck, responder.State);

        // The responder waits for HS_ACK: export it, and let a new object take over.
        var state = responder.ExportState(Key);
        Assert.True(MeshResponder.TryRestoreState(state, Key, new MeshResponderInputs { Identity = b.Identity },
            new MeshResponderServices { Pins = b.Pins, Trust = b.Trust, Replay = b.Replay, Blocked = b.Blocked }, null, out var restored));
        Assert.NotSame(responder, restored);
        Assert.Equal(MeshResponderState.AwaitHsAck, restored!.State);
        Assert.Equal("10.0.0.1", restored.PeerAddress);
        Assert.Equal(responder.StartedAt, restored.StartedAt);

        var ack = await initiator.ReceiveAsync(Wire(MeshCodec.Instance, synAck.Message!), ct);
        Assert.Equal(HandshakeStepKind.Send, ack.Kind);
        var initiatorDone = await initiator.ContinueAsync(ct);
        Assert.True(initiatorDone.Succeeded, initiatorDone.ToString());

        Assert.Equal(HandshakeStepKind.Receive, (await restored.StartAsync(null, ct)).Kind);
        var responderDone = await restored.ReceiveAsync(Wire(MeshCodec.Instance, ack.Message!), ct);
        Assert.True(responderDone.Succeeded, responderDone.ToString());
        // The deferred check of HS_SYN's signature ran on the restored object, with the payload the first one kept.
        Assert.Equal(a.NodeId, responderDone.Result!.PeerNodeId);
        Assert.Equal(new Bytes(a.Identity.PublicKeyBytes()), await b.Pins.GetPinAsync(a.NodeId, ct));
        Assert.Equal(TrustLevel.Authenticated, await b.Trust.GetAsync(a.NodeId, ct));
    }

    [Fact]
    public async Task A_tampered_foreign_or_wrongly_keyed_state_is_refused()
    {
        using var b = new Node();
        var responder = b.Responder();
        await responder.StartAsync("10.0.0.1", CancellationToken.None);
        var state = responder.ExportState(Key);
        var inputs = new MeshResponderInputs { Identity = b.Identity };
        var services = new MeshResponderServices { Pins = b.Pins, Trust = b.Trust, Replay = b.Replay, Blocked = b.Blocked };
        Assert.True(MeshResponder.TryRestoreState(state, Key, inputs, services, null, out _));

        for (var i = 0; i < state.Length; i++)
        {
            var tampered = (byte[])state.Clone();
            tampered[i] ^= 0x01;
            Assert.False(MeshResponder.TryRestoreState(tampered, Key, inputs, services, null, out var machine), $"byte {i} changed and accepted");
            Assert.Null(machine);
        }
        Assert.False(MeshResponder.TryRestoreState(state[..^1], Key, inputs, services, null, out _));
        var otherKey = (byte[])Key.Clone();
        otherKey[0] ^= 0xff;
        Assert.False(MeshResponder.TryRestoreState(state, otherKey, inputs, services, null, out _));

        // Another role's state, and another protocol's, are foreign.
        var initiatorState = b.Initiator().ExportState(Key);
        Assert.False(MeshResponder.TryRestoreState(initiatorState, Key, inputs, services, null, out _));
        var ltpState = new LtpServer(new LtpServerInputs { ServerCapabilities = Array.Empty<string>() },
            new LtpServerServices { Threads = new InMemoryThreadStore() }).ExportState(Key);
        Assert.False(MeshResponder.TryRestoreState(ltpState, Key, inputs, services, null, out _));
        Assert.Throws<ArgumentException>(() => responder.ExportState(new byte[16]));
    }

    [Theory]
    [InlineData(typeof(MeshResponder))]
    [InlineData(typeof(MeshInitiator))]
    [InlineData(typeof(LtpServer))]
    [InlineData(typeof(LtpClient))]
    [InlineData(typeof(Dsl.Protocols.Stt.SttResponder))]
    [InlineData(typeof(Dsl.Protocols.Stt.SttInitiator))]
    public void A_waiting_machine_holds_no_task_timer_buffer_or_whole_message(Type machine)
    {
        var messageBase = machine.Assembly.GetTypes().Single(t => t.Namespace == machine.Namespace && t.IsAbstract && t.Name.EndsWith("Message"));
        foreach (var field in machine.GetFields(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public))
        {
            var type = Nullable.GetUnderlyingType(field.FieldType) ?? field.FieldType;
            Assert.False(messageBase.IsAssignableFrom(type), $"{machine.Name}.{field.Name} keeps a whole message");
            Assert.False(typeof(Task).IsAssignableFrom(type) || type.Name.StartsWith("ValueTask"), $"{machine.Name}.{field.Name} is a task");
            Assert.False(typeof(ITimer).IsAssignableFrom(type) || typeof(CancellationTokenSource).IsAssignableFrom(type), $"{machine.Name}.{field.Name} is a timer");
            Assert.False(type == typeof(byte[]) || type == typeof(PooledBufferWriter) || typeof(Stream).IsAssignableFrom(type), $"{machine.Name}.{field.Name} is a buffer");
        }
    }

    [Fact]
    public void The_mesh_responder_keeps_the_deferred_signature_and_not_what_nothing_reads()
    {
        var kept = typeof(MeshResponder).GetFields(BindingFlags.Instance | BindingFlags.NonPublic).Select(f => f.Name).ToList();
        Assert.Contains("_hsSynEnvelopePayload", kept);
        Assert.Contains("_hsSynEnvelopeSignature", kept);
        Assert.DoesNotContain("_hsSynTimestamp", kept);
        Assert.DoesNotContain("_hsAckChallengeNonce", kept);
    }

    [Fact]
    public async Task Two_ltp_machines_complete_a_handshake_with_no_transport_at_all()
    {
        var ct = CancellationToken.None;
        var threads = new InMemoryThreadStore();
        var client = new LtpClient(new LtpClientInputs { ClientId = "c" }, new LtpClientServices { SavedThreads = new InMemoryValueStore<Guid>() });
        var server = new LtpServer(new LtpServerInputs { ServerCapabilities = new[] { "x" } }, new LtpServerServices { Threads = threads });

        var clientStep = await client.StartAsync(null, ct);
        var serverStep = await server.StartAsync(null, ct);
        // Each Send goes to the other machine's ReceiveAsync; each side continues after its send.
        while (!(clientStep.Succeeded && serverStep.Succeeded))
        {
            if (clientStep.Kind == HandshakeStepKind.Send)
            {
                serverStep = await server.ReceiveAsync(Wire(LtpCodec.Instance, clientStep.Message!), ct);
                clientStep = await client.ContinueAsync(ct);
            }
            else if (serverStep.Kind == HandshakeStepKind.Send)
            {
                clientStep = await client.ReceiveAsync(Wire(LtpCodec.Instance, serverStep.Message!), ct);
                serverStep = await server.ContinueAsync(ct);
            }
            else Assert.Fail($"stuck: client {clientStep}, server {serverStep}");
        }
        Assert.Equal(clientStep.Result!.ThreadId, serverStep.Result!.ThreadId);
        Assert.Equal(1, threads.Count);
        Assert.True(client.IsCompleted && server.IsCompleted);
    }

    [Fact]
    public async Task A_failed_check_is_a_returned_step_with_the_specs_error_message()
    {
        var ct = CancellationToken.None;
        var server = new LtpServer(new LtpServerInputs { ServerCapabilities = new[] { "x" } }, new LtpServerServices { Threads = new InMemoryThreadStore() });
        await server.StartAsync(null, ct);
        var step = await server.ReceiveAsync(new HandshakeInit { LtpVersion = "0.1", ClientId = "c" }, ct);

        Assert.Equal(HandshakeStepKind.Failed, step.Kind);
        Assert.Equal(LtpErrorCodes.UnsupportedVersion, step.Error!.Code);
        Assert.Null(step.Error.Exception);
        var error = Assert.IsType<Error>(step.Message);
        Assert.Equal(new[] { "0.2" }, error.SupportedVersions);
        Assert.Equal(LtpServerState.Failed, server.State);
        Assert.True(server.IsCompleted);
    }

    [Fact]
    public async Task An_unexpected_message_is_a_returned_step_not_an_exception()
    {
        var server = new LtpServer(new LtpServerInputs { ServerCapabilities = new[] { "x" } }, new LtpServerServices { Threads = new InMemoryThreadStore() });
        await server.StartAsync(null, CancellationToken.None);
        var step = await server.ReceiveAsync(new Ping { SessionId = Guid.NewGuid(), Timestamp = DateTimeOffset.UnixEpoch }, CancellationToken.None);
        Assert.Equal(HandshakeStepKind.Failed, step.Kind);
        Assert.Equal(LtpErrorCodes.MalformedHandshake, step.Error!.Code);
        Assert.Contains("Unexpected message 'ping'", step.Error.Detail);
    }

    private sealed class BrokenThreadStore : IThreadStore
    {
        public ValueTask<bool> ContainsAsync(Guid threadId, string clientId, CancellationToken cancellationToken)
            => throw new IOException("the thread store is down");

        public ValueTask OpenAsync(Guid threadId, string clientId, Guid sessionId, CancellationToken cancellationToken) => default;

        public ValueTask TouchAsync(Guid threadId, Guid sessionId, CancellationToken cancellationToken) => default;
    }

    [Fact]
    public async Task A_store_that_throws_is_an_internal_error_that_keeps_the_exception_and_points_at_the_spec_line()
    {
        var ct = CancellationToken.None;
        var server = new LtpServer(new LtpServerInputs { ServerCapabilities = new[] { "x" } }, new LtpServerServices { Threads = new BrokenThreadStore() });
        await server.StartAsync(null, ct);
        var step = await server.ReceiveAsync(new HandshakeResume { LtpVersion = "0.2", ClientId = "c", ThreadId = Guid.NewGuid() }, ct);

        Assert.Equal(HandshakeStepKind.Failed, step.Kind);
        Assert.Equal(HandshakeErrorCodes.InternalError, step.Error!.Code);
        var exception = Assert.IsType<IOException>(step.Error.Exception);
        Assert.Contains("IOException: the thread store is down", step.Error.Detail);
        // #line maps the generated guard to the spec: the stack trace lands on the YAML line of the 'when'.
        var spec = File.ReadAllLines(Path.Combine(RepoRoot(), "protocols", "ltp", "ltp-0.2.yaml"));
        var line = Array.FindIndex(spec, l => l.Contains("when: threads.contains(")) + 1;
        Assert.Contains($"ltp-0.2.yaml:line {line}", exception.StackTrace);
    }

    [Fact]
    public void Permitted_messages_are_one_read_only_list_per_state()
    {
        var permitted = LtpServer.PermittedMessages(LtpServerState.AwaitHandshakeResumeOrHandshakeInit);
        Assert.Same(permitted, LtpServer.PermittedMessages(LtpServerState.AwaitHandshakeResumeOrHandshakeInit));
        Assert.Throws<NotSupportedException>(() => ((System.Collections.Generic.IList<string>)permitted)[0] = "forged");
    }

    private static string RepoRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Dsl.sln"))) directory = directory.Parent;
        return directory!.FullName;
    }
}
