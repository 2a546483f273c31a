using System.Collections.Generic;
using Dsl.Generator.Model;

namespace Dsl.Generator.Emit;

/// <summary>One generated file: its hint name and text.</summary>
internal readonly record struct GeneratedFile(string HintName, string Text);

/// <summary>Emit stage: every file a protocol generates, in a fixed order.</summary>
internal static class ProtocolEmitter
{
    public static IReadOnlyList<GeneratedFile> Emit(ProtocolModel protocol)
    {
        var files = new List<GeneratedFile>
        {
            new($"{protocol.Namespace}.Messages.g.cs", MessageEmitter.Emit(protocol)),
            new($"{protocol.Namespace}.Codec.g.cs", CodecEmitter.Emit(protocol)),
        };
        foreach (var role in protocol.Roles)
            files.Add(new($"{protocol.Namespace}.{Binding.BindingContext.Pascal(role.Name)}.Machine.g.cs", RoleEmitter.Emit(protocol, role)));
        return files;
    }
}
