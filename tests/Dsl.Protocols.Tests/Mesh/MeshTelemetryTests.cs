using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Linq;
using System.Threading.Tasks;
using Dsl.Protocols.Mesh;
using Dsl.Protocols.Tests.Stt;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Transports;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Dsl.Protocols.Tests.Mesh;

/// <summary>
/// Every handshake shows in traces, metrics and logs: a span per handshake with a child per step, tagged with the
/// protocol, the role, the peer, the outcome and the error code; counters of started, succeeded and failed (by code)
/// handshakes, in flight, and their durations; log events with stable ids. None of them carries key material.
/// </summary>
[Collection(ProcessWide.Name)]
public sealed class MeshTelemetryTests
{
    private sealed class CapturingLogger : ILogger
    {
        public ConcurrentQueue<(EventId Id, LogLevel Level, string Text)> Events { get; } = new();

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => Events.Enqueue((eventId, logLevel, formatter(state, exception)));
    }

    [Fact]
    public async Task Spans_metrics_and_logs_follow_each_handshake_and_its_outcome()
    {
        var spans = new ConcurrentQueue<Activity>();
        using var activities = new ActivityListener
        {
            ShouldListenTo = source => source.Name == HandshakeTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(activities);
        var measurements = new ConcurrentQueue<(string Instrument, double Value, Dictionary<string, object?> Tags)>();
        using var meters = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == HandshakeTelemetry.Name) listener.EnableMeasurementEvents(instrument);
            },
        };
        meters.SetMeasurementEventCallback<long>((instrument, value, tags, _) => measurements.Enqueue((instrument.Name, value, Tags(tags))));
        meters.SetMeasurementEventCallback<double>((instrument, value, tags, _) => measurements.Enqueue((instrument.Name, value, Tags(tags))));
        meters.Start();
        var logger = new CapturingLogger();
        var logged = MeshInitiator.DefaultOptions with { Logger = logger };

        using var a = new Node();
        using var b = new Node();
        // One handshake that succeeds, one whose HS_ACK signature a man in the middle breaks.
        for (var round = 0; round < 2; round++)
        {
            var (ta, tb) = InMemoryTransport.CreatePair();
            var responder = b.Responder(MeshResponder.DefaultOptions with { Logger = logger }).RunAsync(tb).AsTask();
            var initiator = await a.Initiator(logged).RunAsync(round == 0 ? ta : new TamperingTransport(ta, "HS_ACK", "signature"));
            var responded = await responder;
            Assert.True(initiator.Succeeded);
            Assert.Equal(round == 0, responded.Succeeded);
        }

        var handshakes = spans.Where(s => s.OperationName == "handshake").ToList();
        Assert.Equal(4, handshakes.Count);
        Assert.All(handshakes, s =>
        {
            Assert.Equal("mesh", s.GetTagItem("handshake.protocol"));
            Assert.Equal("1.0", s.GetTagItem("handshake.version"));
            Assert.Equal("memory", s.GetTagItem("handshake.peer"));
        });
        var failed = Assert.Single(handshakes, s => (string?)s.GetTagItem("handshake.outcome") == "failed");
        Assert.Equal("responder", failed.GetTagItem("handshake.role"));
        Assert.Equal("INVALID_SIGNATURE", failed.GetTagItem("error.type"));
        Assert.Equal("ack", failed.GetTagItem("handshake.phase"));
        Assert.Equal(ActivityStatusCode.Error, failed.Status);
        // Each step is a child of its handshake: the responder receives SYN, sends SYN_ACK, receives ACK.
        var steps = spans.Where(s => s.ParentSpanId == failed.SpanId).Select(s => s.OperationName).ToList();
        Assert.Equal(new[] { "receive syn", "send HS_SYN_ACK", "receive ack" }, steps);

        double Sum(string instrument, Func<Dictionary<string, object?>, bool>? where = null)
            => measurements.Where(m => m.Instrument == instrument && (string?)m.Tags["handshake.protocol"] == "mesh" && (where?.Invoke(m.Tags) ?? true)).Sum(m => m.Value);
        Assert.Equal(4, Sum("dsl.handshakes.started"));
        Assert.Equal(3, Sum("dsl.handshakes.succeeded"));
        Assert.Equal(1, Sum("dsl.handshakes.failed", t => (string?)t["error.type"] == "INVALID_SIGNATURE"));
        Assert.Equal(0, Sum("dsl.handshakes.in_flight"));
        Assert.Equal(4, measurements.Count(m => m.Instrument == "dsl.handshake.duration"));

        var events = logger.Events.ToList();
        Assert.Equal(4, events.Count(e => e.Id.Id == 1 && e.Id.Name == "HandshakeStarted"));
        Assert.Equal(3, events.Count(e => e.Id.Id == 2 && e.Level == LogLevel.Information));
        var failure = Assert.Single(events, e => e.Id.Id == 3);
        Assert.Equal(LogLevel.Warning, failure.Level);
        Assert.Contains("failed with INVALID_SIGNATURE in phase ack", failure.Text);
        // Nothing logged or tagged holds a node's key (the spans and logs name peers by address, never by key).
        var everything = string.Join("\n", events.Select(e => e.Text).Concat(spans.SelectMany(s => s.TagObjects.Select(t => t.Value?.ToString()))));
        foreach (var node in new[] { a, b })
            Assert.DoesNotContain(Convert.ToHexStringLower(node.Identity.PublicKey), everything);
    }

    private static Dictionary<string, object?> Tags(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var result = new Dictionary<string, object?>();
        foreach (var tag in tags) result[tag.Key] = tag.Value;
        return result;
    }
}
