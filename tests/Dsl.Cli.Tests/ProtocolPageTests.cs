using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Hosting;
using Dsl.Runtime.Sessions;
using Dsl.Runtime.Transports.Tcp;
using Dsl.Runtime.Transports.Udp;
using Dsl.Runtime.Transports.WebSockets;
using Xunit;

namespace Dsl.Cli.Tests;

/// <summary>
/// docs/protocols/NAME.md is what <c>dsl page</c> writes for each spec in protocols/: a stale page fails here
/// (<c>DSL_ACCEPT_DOCS=1</c> rewrites it). The figures the pages give for every transport are the runtime's own.
/// </summary>
[Collection(CommandLine.Collection)]
public sealed class ProtocolPageTests
{

    public static IEnumerable<object[]> Specs() =>
        Directory.GetFiles(Path.Combine(Repository.Root, "protocols"), "*.yaml", SearchOption.AllDirectories)
            .Where(p => !p.Contains($"{Path.DirectorySeparatorChar}vectors{Path.DirectorySeparatorChar}"))
            .Select(p => new object[] { Path.GetRelativePath(Repository.Root, p).Replace('\\', '/') })
            .OrderBy(p => (string)p[0]);

    [Theory]
    [MemberData(nameof(Specs))]
    public async Task Each_spec_has_its_page_and_the_page_is_current(string spec)
    {
        var root = Repository.Root;
        var page = Path.Combine(root, "docs", "protocols", Path.GetFileNameWithoutExtension(spec) + ".md");
        var output = new StringWriter();
        var previous = Environment.CurrentDirectory;
        int exit;
        try
        {
            Environment.CurrentDirectory = root;
            exit = await Program.RunAsync(new[] { "page", spec }, output, interactive: false);
        }
        finally
        {
            Environment.CurrentDirectory = previous;
        }
        Assert.Equal(0, exit);
        var text = output.ToString();
        if (Environment.GetEnvironmentVariable("DSL_ACCEPT_DOCS") == "1") File.WriteAllText(page, text);
        Assert.True(File.Exists(page), $"{page} is missing: dsl page {spec} --out {Path.GetRelativePath(root, page)}");
        Assert.True(File.ReadAllText(page) == text, $"{Path.GetRelativePath(root, page)} is stale: rerun 'dsl page {spec} --out ...' (or DSL_ACCEPT_DOCS=1 dotnet test tests/Dsl.Cli.Tests) and read the diff");
    }

    [Fact]
    public void The_pages_state_the_runtimes_own_limits()
    {
        Assert.Equal(64 * 1024, new TcpTransportOptions().MaxMessageSize);
        Assert.Equal(64 * 1024, new WebSocketTransportOptions().MaxMessageSize);
        Assert.Equal(8192, UdpDatagramSocket.DefaultMaxDatagramSize);
        var reliability = new ReliabilityOptions();
        Assert.Equal(TimeSpan.FromMilliseconds(200), reliability.InitialTimeout);
        Assert.Equal(TimeSpan.FromSeconds(2), reliability.MaxTimeout);
        Assert.Equal(6, reliability.MaxRetransmits);
        Assert.Equal(TimeSpan.FromSeconds(5), new UdpHandshakeOptions().Linger);
        Assert.Equal(TimeSpan.FromSeconds(1), new HandshakeOptions().ErrorDeliveryTimeout);
        Assert.Contains("64 KiB", Pages.WireRules.Transports);
        Assert.Contains("8192 bytes", Pages.WireRules.Transports);
        Assert.Contains("after 200 ms, then 400, 800, 1600 and 2000 ms, at most 6 times", Pages.WireRules.Transports);
        Assert.Contains("for 5 s", Pages.WireRules.Transports);
        Assert.Contains("within 1 s", Pages.WireRules.Failure);
        Assert.Equal(TimeSpan.FromSeconds(2), new WebSocketTransportOptions().CloseTimeout);
        Assert.Equal(TimeSpan.FromSeconds(2), new HeartbeatOptions { Interval = TimeSpan.FromSeconds(1), SendsPings = true }.CloseTimeout);
        Assert.Contains("at most 1 s after a failed handshake, 2 s otherwise", Pages.WireRules.Transports);
    }

    [Fact]
    public void The_pages_name_each_WebSocket_close_status_the_runtime_sends()
    {
        // The statuses CloseReason maps to, and the ones the socket or the transport send for a broken frame or message.
        int[] statuses = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1011];
        foreach (var status in statuses)
            Assert.Contains(status.ToString(System.Globalization.CultureInfo.InvariantCulture), Pages.WireRules.Transports);
    }
}
