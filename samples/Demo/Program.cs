using System;
using System.CommandLine;
using System.Threading;
using System.Threading.Tasks;
using Dsl.Runtime.Hosting;
using Dsl.Samples.Demo.Cahp;
using Dsl.Samples.Demo.Entft;
using Dsl.Samples.Demo.Ltp;
using Dsl.Samples.Demo.Mesh;
using Dsl.Samples.Demo.Stt;

namespace Dsl.Samples.Demo;

/// <summary>
/// <c>dotnet run --project samples/Demo</c> runs every seed protocol end to end and exits 0 when all
/// behave; <c>serve &lt;protocol&gt; --port N</c> serves one protocol on 127.0.0.1 until stopped, and
/// <c>connect &lt;protocol&gt; --port N</c> runs one handshake against it.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var root = new RootCommand("Handshake DSL demo: runs the seed protocols end to end over real transports.");
        root.SetAction((_, cancellationToken) => RunAllAsync(cancellationToken));

        var serve = new Command("serve", "Serve one protocol until stopped (Ctrl+C), on 127.0.0.1 unless --host says otherwise.");
        var port = new Option<int>("--port") { Description = "The port to listen on (0 picks a free one).", DefaultValueFactory = _ => 0 };
        var host = new Option<string>("--host") { Description = "The address to listen on: an IPv4 or IPv6 address, localhost, or * for every interface.", DefaultValueFactory = _ => "127.0.0.1" };
        var stepTimeout = new Option<double?>("--step-timeout") { Description = "Seconds a handshake may wait for each message of the client; the spec's timeout when omitted." };
        var handshakeTimeout = new Option<double?>("--handshake-timeout") { Description = "Seconds a whole handshake may take; the spec's timeout when omitted." };
        HandshakeHostOptions Listen(ParseResult parse)
        {
            var options = new HandshakeHostOptions
            {
                Host = parse.GetValue(host)!,
                Port = parse.GetValue(port),
                StepTimeout = parse.GetValue(stepTimeout) is { } step ? TimeSpan.FromSeconds(step) : null,
                HandshakeTimeout = parse.GetValue(handshakeTimeout) is { } whole ? TimeSpan.FromSeconds(whole) : null,
            };
            options.Validate();
            return options;
        }
        var ltp = new Command("ltp", "Serve LTP v0.2 at ws://HOST:PORT/ltp") { port, host, stepTimeout, handshakeTimeout };
        ltp.SetAction((parse, cancellationToken) => LtpDemo.ServeAsync(Listen(parse), Console.Out, cancellationToken));
        serve.Subcommands.Add(ltp);

        var data = new Option<string>("--data") { Description = "Where the node keeps its identity seed and SQLite store.", DefaultValueFactory = _ => System.IO.Path.Combine(System.IO.Path.GetTempPath(), "dsl-demo-mesh-node") };
        var postgres = new Option<string?>("--postgres") { Description = "A PostgreSQL connection string: keep pins, trust, the replay cache and the block list there, shared with every server given the same one (a fleet), instead of in SQLite under --data." };
        var mesh = new Command("mesh", "Serve Mesh 1.0 on tcp://HOST:PORT (length-prefixed JSON frames)") { port, host, stepTimeout, handshakeTimeout, data, postgres };
        mesh.SetAction((parse, cancellationToken) => MeshDemo.ServeAsync(Listen(parse), parse.GetValue(data)!, parse.GetValue(postgres), Console.Out, cancellationToken));
        serve.Subcommands.Add(mesh);

        var seed = new Option<string?>("--seed") { Description = "The shared seed as hex (32 bytes or more); the demo's when omitted." };
        var unproven = new Option<bool>("--no-address-check") { Description = "Answer a new address without the stateless retry first, for peers written before it (this gives up the amplification limit)." };
        var stt = new Command("stt", "Serve STT 0.2 on udp://HOST:PORT") { port, host, stepTimeout, handshakeTimeout, seed, unproven };
        stt.SetAction((parse, cancellationToken) => SttDemo.ServeAsync(Listen(parse), parse.GetValue(seed), !parse.GetValue(unproven), Console.Out, cancellationToken));
        serve.Subcommands.Add(stt);

        var cahpData = new Option<string>("--data") { Description = "Where the demo keeps both CAHP nodes' identity seeds and the model's weights (serve and connect must share it).", DefaultValueFactory = _ => System.IO.Path.Combine(System.IO.Path.GetTempPath(), "dsl-demo-cahp") };
        var overTcp = new Option<bool>("--tcp") { Description = "Use TCP (length-prefixed frames) instead of WebSocket." };
        var cahp = new Command("cahp", "Serve CAHP v1.1 as the open-weight node at ws://HOST:PORT/cahp, or tcp://HOST:PORT with --tcp") { port, host, stepTimeout, handshakeTimeout, cahpData, overTcp };
        cahp.SetAction((parse, cancellationToken) => CahpDemo.ServeAsync(Listen(parse), parse.GetValue(overTcp), parse.GetValue(cahpData)!, Console.Out, cancellationToken));
        serve.Subcommands.Add(cahp);

        var entftData = new Option<string>("--data") { Description = "Where the server's identity seed lives (serve and connect must share it: the client checks the server's key).", DefaultValueFactory = _ => System.IO.Path.Combine(System.IO.Path.GetTempPath(), "dsl-demo-entft") };
        var phrase = new Option<string>("--phrase") { Description = "The passphrase: the one the server enrols for acft-001 (serve), or the one the client proves (connect).", DefaultValueFactory = _ => EntftDemo.DefaultPhrase };
        var entft = new Command("entft", "Serve entft 1.0 on tcp://HOST:PORT, then echo application frames through the secure channel") { port, host, stepTimeout, handshakeTimeout, entftData, phrase };
        entft.SetAction((parse, cancellationToken) => EntftDemo.ServeAsync(Listen(parse), parse.GetValue(entftData)!, parse.GetValue(phrase)!, Console.Out, cancellationToken));
        serve.Subcommands.Add(entft);
        root.Subcommands.Add(serve);

        var connect = new Command("connect", "Run one handshake as the client/initiator against a server on 127.0.0.1 and print it.");
        var target = new Option<int>("--port") { Description = "The server's port.", Required = true };
        var ltpClient = new Command("ltp", "Connect to ws://127.0.0.1:PORT/ltp") { target };
        ltpClient.SetAction((parse, cancellationToken) => LtpDemo.ConnectOnceAsync(parse.GetValue(target), Console.Out, cancellationToken));
        var clientData = new Option<string>("--data") { Description = "Where this node keeps its identity seed and SQLite store.", DefaultValueFactory = _ => System.IO.Path.Combine(System.IO.Path.GetTempPath(), "dsl-demo-mesh-client") };
        var meshClient = new Command("mesh", "Connect to tcp://127.0.0.1:PORT as a Mesh node") { target, clientData };
        meshClient.SetAction((parse, cancellationToken) => MeshDemo.ConnectOnceAsync(parse.GetValue(target), parse.GetValue(clientData)!, Console.Out, cancellationToken));
        var sttClient = new Command("stt", "Connect to udp://127.0.0.1:PORT as an STT node") { target, seed };
        sttClient.SetAction((parse, cancellationToken) => SttDemo.ConnectOnceAsync(parse.GetValue(target), parse.GetValue(seed), Console.Out, cancellationToken));
        connect.Subcommands.Add(ltpClient);
        connect.Subcommands.Add(meshClient);
        connect.Subcommands.Add(sttClient);
        var cahpClient = new Command("cahp", "Connect to a CAHP open-weight node on 127.0.0.1:PORT as the metabolic node, and verify the ticket") { target, cahpData, overTcp };
        cahpClient.SetAction((parse, cancellationToken) => CahpDemo.ConnectOnceAsync(parse.GetValue(target), parse.GetValue(overTcp), parse.GetValue(cahpData)!, Console.Out, cancellationToken));
        connect.Subcommands.Add(cahpClient);
        var role = new Option<string>("--role") { Description = "The role the client claims.", DefaultValueFactory = _ => "commanding_officer" };
        var domain = new Option<string>("--domain") { Description = "The domain it claims it for.", DefaultValueFactory = _ => "space" };
        var message = new Option<string>("--message") { Description = "What to send through the secure channel once the handshake is done.", DefaultValueFactory = _ => "engage" };
        var entftClient = new Command("entft", "Connect to an entft server on tcp://127.0.0.1:PORT as acft-001, then send one message through the secure channel") { target, entftData, phrase, role, domain, message };
        entftClient.SetAction((parse, cancellationToken) => EntftDemo.ConnectOnceAsync(parse.GetValue(target), parse.GetValue(entftData)!, parse.GetValue(phrase)!, parse.GetValue(role)!, parse.GetValue(domain)!, parse.GetValue(message)!, Console.Out, cancellationToken));
        connect.Subcommands.Add(entftClient);
        root.Subcommands.Add(connect);

        return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
    }

    private static async Task<int> RunAllAsync(CancellationToken cancellationToken)
    {
        var ok = await LtpDemo.RunAsync(Console.Out, cancellationToken).ConfigureAwait(false);
        Console.WriteLine();
        ok &= await MeshDemo.RunAsync(Console.Out, cancellationToken).ConfigureAwait(false);
        Console.WriteLine();
        ok &= await SttDemo.RunAsync(Console.Out, cancellationToken).ConfigureAwait(false);
        Console.WriteLine();
        ok &= await CahpDemo.RunAsync(Console.Out, cancellationToken).ConfigureAwait(false);
        Console.WriteLine();
        ok &= await EntftDemo.RunAsync(Console.Out, cancellationToken).ConfigureAwait(false);
        Console.WriteLine();
        Console.WriteLine(ok ? "All handshakes behaved as their specs say." : "Some handshakes did not behave as their specs say.");
        return ok ? 0 : 1;
    }
}
