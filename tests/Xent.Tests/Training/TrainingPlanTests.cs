using Xent.Optim;
using Xent.Training;
using Xent.Training.Checkpoints;
using Xent.Training.Data;
using Xent.Training.Model;
using Xent.Training.Runs;

namespace Xent.Tests.Training;

public class TrainingPlanTests
{
    private static TrainingPlan Plan() => new()
    {
        Model = new GptConfig { VocabSize = 32, ContextLength = 8, Layers = 1, Dim = 8, Heads = 2 },
        Data = TokenDataset.Markov(trainTokens: 1000, validationTokens: 200),
        OutDir = "unused",
    };

    [Fact]
    public void Checkpoint_config_records_the_optimizer_options_used()
    {
        var options = new TrainerOptions
        {
            Optimizer = new AdamWOptions { Beta1 = 0.8f, Beta2 = 0.95f, Epsilon = 1e-6f, WeightDecay = 0.1f },
            MaxGradientNorm = 0.5f,
        };
        CheckpointTraining t = Plan().ToCheckpointConfig(3, options).Training;
        Assert.Equal(0.8, t.Beta1);
        Assert.Equal(0.95, t.Beta2);
        Assert.Equal(1e-6, t.Epsilon);
        Assert.Equal(0.1, t.WeightDecay);
        Assert.Equal(0.5, t.GradClip);
    }

    [Fact]
    public void Trainer_defaults_are_the_training_defaults()
    {
        var options = new TrainerOptions();
        Assert.Equal(TrainingDefaults.Steps, options.Schedule.TotalSteps);
        Assert.Equal((float)TrainingDefaults.LearningRate, options.Schedule.MaxLearningRate);
        Assert.Equal(TrainingDefaults.Warmup(TrainingDefaults.Steps), options.Schedule.WarmupSteps);
        Assert.Equal((float)TrainingDefaults.WeightDecay, options.Optimizer.WeightDecay);
        Assert.Equal((float)TrainingDefaults.GradClip, options.MaxGradientNorm);
        Assert.Equal(options.MaxGradientNorm, Plan().ToTrainerOptions().MaxGradientNorm);
        Assert.Equal(options.Schedule, Plan().ToTrainerOptions().Schedule);
        Assert.Equal(options.Optimizer, Plan().ToTrainerOptions().Optimizer);
    }
}
