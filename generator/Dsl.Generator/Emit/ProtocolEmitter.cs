using System.Collections.Generic;
using Dsl.Generator.Language;
using Dsl.Generator.Projection;

namespace Dsl.Generator.Emit;

/// <summary>One generated file: its hint name and text.</summary>
internal readonly record struct GeneratedFile(string HintName, string Text);

/// <summary>Emit stage: every file a protocol generates, in a fixed order.</summary>
internal static class ProtocolEmitter
{
    public static IReadOnlyList<GeneratedFile> Emit(ProjectedProtocol projected)
    {
        var protocol = projected.Protocol;
        var files = new List<GeneratedFile>
        {
            new($"{protocol.Namespace}.Messages.g.cs", MessageEmitter.Emit(protocol)),
            new($"{protocol.Namespace}.Codec.g.cs", CodecEmitter.Emit(protocol)),
        };
        foreach (var machine in projected.Machines)
            files.Add(new($"{protocol.Namespace}.{Naming.Pascal(machine.Role)}.Machine.g.cs", RoleEmitter.Emit(projected, machine)));
        return files;
    }
}
