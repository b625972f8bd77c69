using System.Text.Json;
using Xent.Training.Checkpoints;
using Xent.Training.Model;

namespace Xent.Tests.Training;

public class CheckpointDropoutTests
{
    [Fact]
    public void Dropout_goes_into_the_checkpoint_config_and_back()
    {
        var config = new GptConfig { VocabSize = 256, Dropout = 0.125f };
        CheckpointModel saved = ModelCheckpoint.ToCheckpoint(config);
        Assert.Equal(0.125, saved.Dropout);
        string json = JsonSerializer.Serialize(saved);
        Assert.Contains("\"dropout\":0.125", json, StringComparison.Ordinal);
        Assert.Equal(config, ModelCheckpoint.ToGptConfig(JsonSerializer.Deserialize<CheckpointModel>(json)!));
    }

    [Fact]
    public void A_config_written_before_dropout_existed_reads_as_no_dropout()
    {
        const string old = """{"vocab_size":32,"context_length":128,"layers":2,"heads":4,"dim":64,"tie_embeddings":true}""";
        var model = JsonSerializer.Deserialize<CheckpointModel>(old)!;
        Assert.Equal(new GptConfig(), ModelCheckpoint.ToGptConfig(model));
    }
}
